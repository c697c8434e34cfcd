//! Diagnostics: stable codes, severities, positions, and their rendering.
//!
//! Every problem the validator finds is a [`Diagnostic`] with a [`Code`] that
//! never changes meaning; `docs/workflow-language.md` lists them all.

use std::fmt;

/// A position in a source file: 1-based line and column (in characters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    pub const fn new(line: usize, column: usize) -> Self {
        Pos { line, column }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

macro_rules! codes {
    ($($variant:ident = $code:literal, $sev:ident, $summary:literal;)*) => {
        /// The stable diagnostic codes. The registry: one line per code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $($variant,)* }

        impl Code {
            /// Every code, in order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as users see it, e.g. `E002`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$sev,)* }
            }

            /// One line saying what the code means.
            pub fn summary(self) -> &'static str {
                match self { $(Code::$variant => $summary,)* }
            }
        }
    };
}

codes! {
    YamlSyntax = "E001", Error, "the file is not valid YAML";
    UnknownKey = "E002", Error, "a key that this place does not define";
    WrongType = "E003", Error, "a value of the wrong type";
    MissingKey = "E004", Error, "a required key is missing";
    DuplicateKey = "E005", Error, "a key appears twice in one mapping";
    InvalidValue = "E006", Error, "a value that is not one of the allowed values";
    InvalidName = "E007", Error, "a key, id or name that does not match its pattern";
    UnknownDocument = "E008", Error, "the file is not a workflow, a calendar or the profile";
    ConflictingKeys = "E009", Error, "keys that cannot be used together";
    UnknownStep = "E010", Error, "a reference to a step that does not exist";
    Cycle = "E011", Error, "steps that depend on each other in a cycle";
    ReworkNotUpstream = "E012", Error, "a rework target that is not upstream of its approval";
    UndeclaredRole = "E013", Error, "a role that is not declared under `roles`";
    DuplicateDocument = "E014", Error, "two files define the same workflow or calendar key";
    KeyNotForStepType = "E015", Error, "a key that this step type does not take";
    InvalidCron = "E020", Error, "an invalid cron expression";
    InvalidTimezone = "E021", Error, "an unknown IANA timezone";
    InvalidDuration = "E022", Error, "an invalid duration";
    InvalidDate = "E023", Error, "an invalid date or date-time";
    InvalidHours = "E024", Error, "invalid calendar opening hours";
    OutOfRange = "E025", Error, "a value outside its allowed range";
    ExpressionSyntax = "E030", Error, "an expression or template that does not compile";
    ExpressionUnknownStep = "E031", Error, "an expression that names an unknown step";
    ExpressionUnknownInput = "E032", Error, "an expression that names an unknown input";
    ExpressionOutOfScope = "E033", Error, "an expression variable that is not in scope here";
    UnknownWorkflow = "E040", Error, "a subflow naming a workflow that does not exist";
    UnknownCalendar = "E041", Error, "a calendar that does not exist";
    UnknownTemplate = "E042", Error, "an e-mail template that does not exist";
    InvalidRecipient = "E043", Error, "an invalid notification recipient";
    ScheduleInputs = "E044", Error, "schedule inputs that do not fit the workflow's inputs";
    DefaultMismatch = "E050", Error, "a default that does not fit its field spec";
    RequiredWithoutDefault = "E051", Error, "a required profile field without a default";
    UnknownProfileField = "E052", Error, "a profile field that the profile document does not declare";
    NoReworkPath = "W101", Warning, "an approval whose rejection ends the instance";
    NoDueTimes = "W102", Warning, "a workflow with no due time on any human step";
    NothingToCountFrom = "W103", Warning, "`remind` or `escalation` on a step without `due`";
    DefaultCalendar = "W104", Warning, "business durations with no calendar use Mon-Fri 09:00-18:00 UTC";
    NotUpstream = "W105", Warning, "an expression reads a step that may not have run yet";
    UnusedRole = "W106", Warning, "a declared role that no step uses";
    EndlessRepeat = "W107", Warning, "a `repeat` with neither `until` nor `count`";
    ApprovedBySilence = "W108", Warning, "a client's (external) approval that silence approves";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found in one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub file: String,
    pub pos: Pos,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn severity(&self) -> Severity {
        self.code.severity()
    }

    pub fn is_error(&self) -> bool {
        self.severity() == Severity::Error
    }

    /// The JSON shape of `smmflow validate --format json`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "code": self.code.as_str(),
            "severity": self.severity().as_str(),
            "file": self.file,
            "line": self.pos.line,
            "column": self.pos.column,
            "message": self.message,
            "hint": self.hint,
        })
    }

    /// Human output: `file:line:col: error[E002]: message`, the source line with
    /// a caret under the column, and the hint.
    pub fn render(&self, source: Option<&str>) -> String {
        let mut out = format!(
            "{}:{}:{}: {}[{}]: {}\n",
            self.file,
            self.pos.line,
            self.pos.column,
            self.severity().as_str(),
            self.code,
            self.message
        );
        let line = source.and_then(|s| s.lines().nth(self.pos.line.saturating_sub(1)));
        if let Some(line) = line {
            let gutter = self.pos.line.to_string();
            let pad = " ".repeat(gutter.len());
            let caret_at: String = line
                .chars()
                .take(self.pos.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            out.push_str(&format!("{pad} |\n{gutter} | {line}\n{pad} | {caret_at}^\n"));
        }
        if let Some(hint) = &self.hint {
            out.push_str(&format!("  = hint: {hint}\n"));
        }
        out
    }
}

/// Collects the diagnostics of one file.
#[derive(Debug)]
pub struct Sink {
    file: String,
    pub(crate) items: Vec<Diagnostic>,
}

impl Sink {
    pub fn new(file: impl Into<String>) -> Self {
        Sink { file: file.into(), items: Vec::new() }
    }

    pub fn file(&self) -> &str {
        &self.file
    }

    pub fn push(&mut self, code: Code, pos: Pos, message: impl Into<String>) {
        self.push_hint(code, pos, message, None::<String>);
    }

    pub fn push_hint(&mut self, code: Code, pos: Pos, message: impl Into<String>, hint: Option<impl Into<String>>) {
        self.items.push(Diagnostic {
            code,
            file: self.file.clone(),
            pos,
            message: message.into(),
            hint: hint.map(Into::into),
        });
    }

    /// How many problems were reported so far.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }
}

/// The closest candidate to `word`, when it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
