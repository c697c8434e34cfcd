//! The report's charts, drawn as inline SVG with plotters (no JavaScript,
//! no fonts to load: the SVG's text is rendered by the browser or printer).

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

/// One series of a bar chart: its name, a value per category, its colour.
pub struct Series<'a> {
    pub name: &'a str,
    pub values: Vec<f64>,
    pub color: RGBColor,
}

pub const DARK: RGBColor = RGBColor(47, 111, 237);
pub const LIGHT: RGBColor = RGBColor(170, 196, 247);
pub const RED: RGBColor = RGBColor(194, 59, 50);
pub const GREEN: RGBColor = RGBColor(31, 138, 76);

const SIZE: (u32, u32) = (720, 300);

fn label(categories: &[String], v: &SegmentValue<usize>) -> String {
    match v {
        SegmentValue::Exact(i) | SegmentValue::CenterOf(i) => categories.get(*i).cloned().unwrap_or_default(),
        SegmentValue::Last => String::new(),
    }
}

fn top(series: &[Series<'_>]) -> f64 {
    let max = series.iter().flat_map(|s| s.values.iter().copied()).fold(0.0_f64, f64::max);
    if max > 0.0 { max * 1.15 } else { 1.0 }
}

/// Bars per category; each further series is drawn narrower in front of
/// the one before (p90 behind p50, open behind overdue).
pub fn bars(title: &str, y_desc: &str, categories: &[String], series: &[Series<'_>]) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let n = categories.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((0..n - 1).into_segmented(), 0.0..top(series))
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_desc(y_desc)
            .x_labels(n)
            .x_label_formatter(&|v| label(categories, v))
            .draw()
            .map_err(|e| e.to_string())?;
        for (k, s) in series.iter().enumerate() {
            let margin = 6 + 10 * k as u32;
            let color = s.color;
            chart
                .draw_series(s.values.iter().enumerate().map(|(i, v)| {
                    let mut r = Rectangle::new(
                        [(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), *v)],
                        color.filled(),
                    );
                    r.set_margin(0, 0, margin, margin);
                    r
                }))
                .map_err(|e| e.to_string())?
                .label(s.name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// A line over categories (weeks), values 0..=100.
pub fn line(title: &str, y_desc: &str, categories: &[String], values: &[f64]) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let n = categories.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((0..n - 1).into_segmented(), 0.0..105.0)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .y_desc(y_desc)
            .x_labels(n)
            .x_label_formatter(&|v| label(categories, v))
            .draw()
            .map_err(|e| e.to_string())?;
        let points: Vec<(SegmentValue<usize>, f64)> =
            values.iter().enumerate().map(|(i, v)| (SegmentValue::CenterOf(i), *v)).collect();
        chart.draw_series(LineSeries::new(points.clone(), GREEN.stroke_width(3))).map_err(|e| e.to_string())?;
        chart.draw_series(points.into_iter().map(|p| Circle::new(p, 4, GREEN.filled()))).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_draw_with_no_one_or_many_categories() {
        for n in [0usize, 1, 5] {
            let cats: Vec<String> = (0..n).map(|i| format!("step_{i}")).collect();
            let s = [Series { name: "p50", values: (0..n).map(|i| i as f64).collect(), color: DARK }];
            let svg = bars("t", "h", &cats, &s).unwrap();
            assert!(svg.starts_with("<svg") && cats.iter().all(|c| svg.contains(c.as_str())), "{n}");
            let svg = line("t", "%", &cats, &(0..n).map(|i| i as f64 * 10.0).collect::<Vec<_>>()).unwrap();
            assert!(svg.contains("<svg"), "{n}");
        }
    }

    #[test]
    fn chart_text_is_escaped() {
        let cats = vec!["<script>x</script>".to_string()];
        let svg = bars("a & b", "h", &cats, &[Series { name: "<b>", values: vec![1.0], color: DARK }]).unwrap();
        assert!(!svg.contains("<script>") && !svg.contains("<b>"), "{svg}");
    }
}
