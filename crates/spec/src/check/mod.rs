//! Checks within one workflow: step references, cycles, rework targets,
//! roles, expressions and their scope, schedule inputs, and SMM warnings.

use std::collections::{HashMap, HashSet};

use crate::decode::Sp;
use crate::diag::{Code, Pos, Sink, did_you_mean};
use crate::duration::Duration;
use crate::escalation::{Auto, Escalation};
use crate::expr::{self, Template};
use crate::field;
use crate::recipient::Recipient;
use crate::step::approval::{OnExpire, Then};
use crate::step::task::Assign;
use crate::step::{Step, StepKind};
use crate::workflow::Workflow;

mod vars;

/// What an expression may see at a given place.
#[derive(Clone, Copy, Default)]
struct Scope<'a> {
    /// The step the expression belongs to (for upstream checks).
    step: Option<&'a Step>,
    /// `item` and `index` (inside a `for_each` step).
    item: bool,
    /// `event` (notification templates).
    event: bool,
    /// `task` (notification templates of task events).
    task: bool,
}

/// The most steps a workflow may have. Far beyond any real process (a
/// `for_each` fans out at run time without more steps), it bounds what
/// checking a file may cost: the upstream relation below is one bit per
/// pair of steps, 12.5 MB at this size.
pub const MAX_STEPS: usize = 10_000;

/// After this many problems, "did you mean" hints are no longer computed:
/// each compares a name with every candidate.
const MAX_HINTS: usize = 100;

struct Checker<'a> {
    wf: &'a Workflow,
    sink: &'a mut Sink,
    env: minijinja::Environment<'static>,
    ids: Vec<&'a str>,
    /// Transitive predecessors of each step through `after`.
    ancestors: Ancestors,
    used_roles: HashSet<&'a str>,
}

/// Runs every check of one workflow.
pub fn check_workflow(wf: &Workflow, sink: &mut Sink) {
    if wf.steps.len() > MAX_STEPS {
        sink.push(
            Code::OutOfRange,
            wf.pos,
            format!("the workflow has {} steps; at most {MAX_STEPS} are allowed", wf.steps.len()),
        );
        return;
    }
    let ids: Vec<&str> = wf.steps.iter().map(|s| s.id.value.as_str()).collect();
    let ancestors = Ancestors::of(wf);
    let mut c = Checker { wf, sink, env: expr::environment(), ids, ancestors, used_roles: HashSet::new() };
    c.step_references();
    c.cycles();
    for step in &wf.steps {
        c.step(step);
    }
    c.workflow_level();
}

/// Refuses schedules and `repeat` steps that fire more often than every
/// `min_seconds` (a deployment's limit, `SMMFLOW_MIN_SCHEDULE_INTERVAL`).
pub fn check_intervals(wf: &Workflow, min_seconds: u32, sink: &mut Sink) {
    let crons = wf
        .schedules
        .iter()
        .map(|s| (&s.cron, "schedule"))
        .chain(wf.steps.iter().filter_map(|s| s.common.repeat.as_ref().map(|r| (&r.cron, "repeat"))));
    for (cron, what) in crons {
        let gap = cron.value.min_gap_seconds();
        if gap < min_seconds {
            sink.push_hint(
                Code::OutOfRange,
                cron.pos,
                format!(
                    "this {what} fires every {gap} s; this deployment allows at most one fire every {min_seconds} s"
                ),
                Some("fire less often, e.g. `*/5 * * * *` (every 5 minutes)"),
            );
        }
    }
}

/// Which steps come (transitively) `after` which: a bit matrix filled in
/// topological order, each row the union of its predecessors' rows. Steps
/// in a cycle (reported as E011) keep what their acyclic part gives them.
struct Ancestors {
    words: usize,
    bits: Vec<u64>,
}

impl Ancestors {
    fn of(wf: &Workflow) -> Ancestors {
        let n = wf.steps.len();
        let words = n.div_ceil(64);
        let preds: Vec<Vec<usize>> =
            wf.steps.iter().map(|s| s.common.after.iter().filter_map(|a| wf.index.get(&a.value)).collect()).collect();
        let mut succs: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut waiting: Vec<usize> = preds.iter().map(Vec::len).collect();
        for (i, ps) in preds.iter().enumerate() {
            for &p in ps {
                succs[p].push(i);
            }
        }
        let mut a = Ancestors { words, bits: vec![0; n * words] };
        let mut ready: Vec<usize> = (0..n).filter(|i| waiting[*i] == 0).collect();
        while let Some(v) = ready.pop() {
            for &p in &preds[v] {
                a.inherit(v, p);
            }
            for &s in &succs[v] {
                waiting[s] -= 1;
                if waiting[s] == 0 {
                    ready.push(s);
                }
            }
        }
        a
    }

    /// Row `v` gains `p` and everything before `p`.
    fn inherit(&mut self, v: usize, p: usize) {
        let w = self.words;
        for k in 0..w {
            let from = self.bits[p * w + k];
            self.bits[v * w + k] |= from;
        }
        self.bits[v * w + p / 64] |= 1 << (p % 64);
    }

    fn contains(&self, of: usize, id: usize) -> bool {
        self.bits.get(of * self.words + id / 64).is_some_and(|word| word & (1 << (id % 64)) != 0)
    }
}

impl<'a> Checker<'a> {
    /// "Did you mean" among the step ids, while hints are still cheap enough.
    fn step_hint(&self, word: &str) -> Option<&'a str> {
        (self.sink.len() < MAX_HINTS).then(|| did_you_mean(word, self.ids.iter().copied())).flatten()
    }

    fn unknown_step(&mut self, r: &Sp<String>, what: &str) {
        let parts: Vec<&str> = r.value.split(',').map(str::trim).collect();
        let hint = if parts.len() > 1 && parts.iter().all(|p| self.known(p)) {
            Some(format!("to name several steps, write a list: `[{}]`", parts.join(", ")))
        } else {
            self.step_hint(&r.value).map(|s| format!("did you mean `{s}`?"))
        };
        self.sink.push_hint(
            Code::UnknownStep,
            r.pos,
            format!("{what} names `{}`, which is not a step of this workflow", r.value),
            hint,
        );
    }

    fn known(&self, id: &str) -> bool {
        self.wf.index.declared(id)
    }

    fn step_references(&mut self) {
        for step in &self.wf.steps {
            for a in &step.common.after {
                if !self.known(&a.value) {
                    self.unknown_step(a, "`after`");
                }
            }
        }
    }

    /// Reports each cycle of `after` edges once.
    fn cycles(&mut self) {
        let wf = self.wf;
        let index: HashMap<&str, usize> = self.ids.iter().enumerate().map(|(i, s)| (*s, i)).collect();
        // Each step's `after` targets, with the entry's position in its list.
        let edges: Vec<Vec<(usize, usize)>> = wf
            .steps
            .iter()
            .map(|s| {
                s.common
                    .after
                    .iter()
                    .enumerate()
                    .filter_map(|(k, a)| index.get(a.value.as_str()).map(|t| (*t, k)))
                    .collect()
            })
            .collect();
        // 0 = unvisited, 1 = on the stack, 2 = done.
        let mut state = vec![0u8; edges.len()];
        for start in 0..edges.len() {
            if state[start] != 0 {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            state[start] = 1;
            while let Some((node, next)) = stack.pop() {
                if let Some(&(to, entry)) = edges[node].get(next) {
                    stack.push((node, next + 1));
                    match state[to] {
                        0 => {
                            state[to] = 1;
                            stack.push((to, 0));
                        }
                        1 => {
                            let from = stack.iter().position(|(n, _)| *n == to).unwrap_or(0);
                            let mut path: Vec<&str> = stack[from..].iter().map(|(n, _)| self.ids[*n]).collect();
                            path.push(self.ids[to]);
                            let cycle = path.join(" -> ");
                            // Reported at the `after:` entry that closes the cycle.
                            let closing = &wf.steps[node].common.after[entry];
                            self.sink.push_hint(
                                Code::Cycle,
                                closing.pos,
                                format!(
                                    "steps wait for each other in a cycle: {cycle} (each comes `after` the next); `{}` coming `after: {}` closes it",
                                    self.ids[node], self.ids[to]
                                ),
                                Some(format!("remove `{}` from the `after` of `{}`, or reorder the steps", self.ids[to], self.ids[node])),
                            );
                        }
                        _ => {}
                    }
                } else {
                    state[node] = 2;
                }
            }
        }
    }

    fn is_upstream(&self, of: &str, id: &str) -> bool {
        match (self.wf.index.get(of), self.wf.index.get(id)) {
            (Some(of), Some(id)) => self.ancestors.contains(of, id),
            _ => false,
        }
    }

    /// The declared role an undeclared name probably meant. That role
    /// counts as used: the typo is reported once, not again as W106.
    fn meant_role(&mut self, name: &str) -> Option<&'a str> {
        let wf: &'a Workflow = self.wf;
        let meant = did_you_mean(name, wf.roles.iter().map(|r| r.name.value.as_str()));
        if let Some(m) = meant {
            self.used_roles.insert(m);
        }
        meant
    }

    fn role_list(&self) -> String {
        self.wf.roles.iter().map(|r| format!("`{}`", r.name.value)).collect::<Vec<_>>().join(", ")
    }

    fn role(&mut self, role: &'a Sp<String>) {
        self.used_roles.insert(role.value.as_str());
        if !self.wf.has_role(&role.value) {
            let meant = self.meant_role(&role.value);
            let hint = meant
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| format!("declare it under `roles:` (e.g. `{}: what this role does`)", role.value));
            self.sink.push_hint(
                Code::UndeclaredRole,
                role.pos,
                format!("role `{}` is not declared under `roles`", role.value),
                Some(hint),
            );
        }
    }

    fn recipient(&mut self, r: &'a Sp<Recipient>, scope: Scope<'a>) {
        match &r.value {
            Recipient::Role(name) => {
                self.used_roles.insert(name.as_str());
                if !self.wf.has_role(name) {
                    let hint = Some(self.meant_role(name).map_or_else(
                        || format!("declare `{name}` under `roles:`, or name one of: {}", self.role_list()),
                        |s| format!("did you mean `role:{s}`?"),
                    ));
                    self.sink.push_hint(
                        Code::UndeclaredRole,
                        r.pos,
                        format!("`role:{name}` names a role that is not declared under `roles`"),
                        hint,
                    );
                }
            }
            Recipient::Template(t) => self.template(t, scope),
            _ => {}
        }
    }

    fn step_ids(&mut self, refs: &[Sp<String>], what: &str) {
        for r in refs {
            if !self.known(&r.value) {
                self.unknown_step(r, what);
            }
        }
    }

    /// A client's silence is not approval: an external level whose
    /// escalation chain (the step's own, or the workflow's for a step with
    /// `due`) ends in `auto: approve` is reported.
    fn approved_by_silence(&mut self, step: &'a Step) {
        let StepKind::Approval(a) = &step.kind else { return };
        if !a.levels.iter().any(|l| l.external) {
            return;
        }
        if let Some(o) = a.on_expire.as_ref().filter(|o| o.value == OnExpire::Approve) {
            self.sink.push_hint(
                Code::ApprovedBySilence,
                o.pos,
                format!(
                    "the client's approval `{}` is approved by silence: `on_expire: approve` decides it when nobody answers in time",
                    step.id.value
                ),
                Some("route an expired approval to rescheduling (`on_expire: {goto: STEP}`) or reject it: a client's silence is not a sign-off"),
            );
        }
        let c = &step.common;
        let chain = c.escalation.as_deref().or_else(|| c.due.is_some().then_some(self.wf.escalation.as_slice()));
        let Some(auto) =
            chain.unwrap_or_default().iter().filter_map(|e| e.auto.as_ref()).find(|a| matches!(a.value, Auto::Approve))
        else {
            return;
        };
        self.sink.push_hint(
            Code::ApprovedBySilence,
            step.id.pos,
            format!(
                "the client's approval `{}` is approved by silence: `auto: approve` (line {}) decides it when nobody answers in time",
                step.id.value, auto.pos.line
            ),
            Some("remind the client, notify the account manager or reassign instead: a client's silence is not a sign-off"),
        );
    }

    fn escalation(&mut self, chain: &'a [Escalation], step: Option<&'a Step>) {
        for e in chain {
            for r in &e.notify {
                self.recipient(r, Scope { step, ..Scope::default() });
            }
            if let Some(r) = &e.reassign {
                self.recipient(r, Scope { step, ..Scope::default() });
            }
            if let (Some(auto), Some(step)) = (&e.auto, step) {
                let fits = matches!(
                    (&step.kind, auto.value),
                    (StepKind::Approval(_), Auto::Approve | Auto::Reject) | (StepKind::Task(_), Auto::Skip)
                );
                if !fits {
                    let word = match auto.value {
                        Auto::Approve => "approve",
                        Auto::Reject => "reject",
                        Auto::Skip => "skip",
                    };
                    self.sink.push_hint(
                        Code::InvalidValue,
                        auto.pos,
                        format!("`auto: {word}` does not apply to a `{}` step", step.kind.type_name()),
                        Some("approvals take approve or reject; tasks take skip"),
                    );
                }
            }
        }
    }

    fn step(&mut self, step: &'a Step) {
        let c = &step.common;
        let own = Scope { step: Some(step), ..Scope::default() };
        let inner = Scope { item: c.for_each.is_some(), ..own };
        for role in step.roles() {
            self.role(role);
        }
        if let Some(t) = &c.title {
            self.template(t, inner);
        }
        if let Some(t) = &c.instructions {
            self.template(t, inner);
        }
        if let Some(e) = &c.if_ {
            self.expr(e, own);
        }
        if let Some(e) = &c.for_each {
            self.expr(e, own);
        }
        if let Some(at) = c.start.as_ref().and_then(|s| s.at.as_ref()) {
            self.expr(at, own);
        }
        if let Some(u) = c.repeat.as_ref().and_then(|r| r.until.as_ref()) {
            self.expr(u, own);
        }
        if c.due.is_none() && (c.remind.is_some() || c.escalation.is_some()) {
            self.sink.push_hint(
                Code::NothingToCountFrom,
                step.id.pos,
                format!("step `{}` has `remind` or `escalation` but no `due`: they never fire", step.id.value),
                Some("add `due:`"),
            );
        }
        if let Some(chain) = &c.escalation {
            self.escalation(chain, Some(step));
        }
        self.approved_by_silence(step);
        match &step.kind {
            StepKind::Task(t) => {
                if let Some(d) = &t.distinct_from {
                    self.step_ids(d, "`distinct_from`");
                }
                if let Assign::Expression(tpl) = &t.assign {
                    self.template(tpl, inner);
                }
                if let Some(p) = &t.figures {
                    self.expr(&p.from, inner);
                    self.expr(&p.to, inner);
                }
            }
            StepKind::Approval(a) => {
                if let Some(d) = &a.distinct_from {
                    self.step_ids(d, "`distinct_from`");
                }
                if let Some(e) = &a.expires {
                    self.expr(&e.at, inner);
                }
                for b in a.levels.iter().filter_map(|l| l.batch.as_ref()) {
                    self.template(b, inner);
                }
                if let Some(Sp { value: OnExpire::Goto(goto), .. }) = &a.on_expire {
                    if !self.known(&goto.value) {
                        self.unknown_step(goto, "`on_expire.goto`");
                    } else if !self.is_upstream(&step.id.value, &goto.value) {
                        self.sink.push_hint(
                            Code::ReworkNotUpstream,
                            goto.pos,
                            format!(
                                "`on_expire.goto` names `{}`, which is not upstream of the approval `{}`",
                                goto.value, step.id.value
                            ),
                            Some("an expired approval goes back to a step it (directly or indirectly) comes `after`"),
                        );
                    }
                }
                match &a.on_reject {
                    None => self.sink.push_hint(
                        Code::NoReworkPath,
                        step.id.pos,
                        format!("a rejection of `{}` ends the whole instance as rejected", step.id.value),
                        Some("add `on_reject: {goto: <step>, max_rounds: N}` to send the work back for rework"),
                    ),
                    Some(r) => {
                        if !self.known(&r.goto.value) {
                            self.unknown_step(&r.goto, "`on_reject.goto`");
                        } else if !self.is_upstream(&step.id.value, &r.goto.value) {
                            self.sink.push_hint(
                                Code::ReworkNotUpstream,
                                r.goto.pos,
                                format!(
                                    "`on_reject.goto` names `{}`, which is not upstream of the approval `{}`",
                                    r.goto.value, step.id.value
                                ),
                                Some("rework goes back to a step this approval (directly or indirectly) comes `after`"),
                            );
                        }
                        if let Some(Then::Reassign(to)) = &r.then {
                            self.recipient(to, own);
                        }
                    }
                }
            }
            StepKind::Notify(n) => {
                for r in &n.to {
                    self.recipient(r, inner);
                }
                for t in [&n.subject, &n.body].into_iter().flatten() {
                    self.template(t, inner);
                }
            }
            StepKind::Wait(w) => {
                if let Some(u) = &w.until {
                    self.expr(u, own);
                }
            }
            StepKind::Subflow(s) => {
                for (_, v) in &s.inputs {
                    self.value_templates(&v.value, v.pos, inner);
                }
            }
            StepKind::UpdateProfile(u) => {
                for (_, v) in &u.set {
                    self.value_templates(&v.value, v.pos, own);
                }
            }
        }
    }

    /// Strings inside a literal value (subflow inputs) are templates.
    fn value_templates(&mut self, v: &serde_json::Value, pos: Pos, scope: Scope<'a>) {
        match v {
            serde_json::Value::String(s) => self.template(&Template::new(s, pos), scope),
            serde_json::Value::Array(items) => items.iter().for_each(|i| self.value_templates(i, pos, scope)),
            serde_json::Value::Object(m) => m.values().for_each(|i| self.value_templates(i, pos, scope)),
            _ => {}
        }
    }

    fn workflow_level(&mut self) {
        let wf = self.wf;
        for rule in &wf.notify {
            if let Some(s) = &rule.step
                && !self.known(&s.value)
            {
                self.unknown_step(s, "`step`");
            }
            let has_task = !rule.on.is_empty() && rule.on.iter().all(|e| e.value.has_task());
            let scope = Scope { event: true, task: has_task, ..Scope::default() };
            for r in &rule.to {
                self.recipient(r, scope);
            }
            for t in [&rule.subject, &rule.body].into_iter().flatten() {
                self.template(t, scope);
            }
        }
        for (_, t) in &wf.outputs {
            self.template(t, Scope::default());
        }
        if let Some(p) = &wf.publication {
            for t in [Some(&p.at), Some(&p.channel), p.title.as_ref()].into_iter().flatten() {
                self.template(t, Scope::default());
                if let Ok(vars) = expr::template_vars(&self.env, &t.source)
                    && let Some(v) = vars.iter().find(|v| v.starts_with("steps"))
                {
                    self.sink.push_hint(
                        Code::ExpressionOutOfScope,
                        t.pos,
                        format!("`publication` is rendered when the instance starts, before any step: `{v}` is not known yet"),
                        Some("use `inputs` and `workspace`"),
                    );
                }
            }
        }
        self.escalation(&wf.escalation, None);
        self.schedules();
        self.stray_publications();
        let human: Vec<&Step> = wf.steps.iter().filter(|s| s.kind.is_human()).collect();
        if !human.is_empty() && human.iter().all(|s| s.common.due.is_none()) {
            self.sink.push_hint(
                Code::NoDueTimes,
                wf.key.pos,
                format!("no human step of `{}` has a `due` time, so nothing is ever overdue", wf.key.value),
                Some("clients expect dates: add `due:` to the tasks and approvals"),
            );
        }
        if wf.calendar.is_none()
            && let Some(pos) = self.first_business_duration()
        {
            self.sink.push_hint(
                Code::DefaultCalendar,
                pos,
                "business time is counted without a calendar: the parent's calendar, else the workspace's, else Mon-Fri 09:00-18:00 UTC",
                Some("set `calendar:` on the workflow"),
            );
        }
        // A step that did not decode may be the one that uses a role.
        for role in wf.roles.iter().filter(|_| !wf.index.has_failed()) {
            if !self.used_roles.contains(role.name.value.as_str()) {
                self.sink.push(
                    Code::UnusedRole,
                    role.name.pos,
                    format!("role `{}` is declared but no step or recipient uses it", role.name.value),
                );
            }
        }
    }

    fn first_business_duration(&self) -> Option<Pos> {
        let wf = self.wf;
        let business = |d: &Sp<Duration>| d.is_business().then_some(d.pos);
        let chain = |c: &[Escalation]| c.iter().find_map(|e| business(&e.after));
        let from_steps = wf.steps.iter().find_map(|s| {
            let c = &s.common;
            c.due
                .as_ref()
                .and_then(business)
                .or_else(|| c.remind.as_ref().and_then(|r| r.iter().find_map(business)))
                .or_else(|| c.escalation.as_deref().and_then(chain))
                .or_else(|| c.start.as_ref().and_then(|st| st.after.as_ref()).and_then(business))
                .or_else(|| match &s.kind {
                    StepKind::Wait(w) => w.duration.as_ref().and_then(business),
                    _ => None,
                })
        });
        from_steps.or_else(|| wf.remind.iter().find_map(business)).or_else(|| chain(&wf.escalation))
    }

    /// `publications:` on a list field means something only in a task form.
    fn stray_publications(&mut self) {
        for (name, spec) in &self.wf.inputs {
            if spec.publications.is_some() {
                self.sink.push(
                    Code::ConflictingKeys,
                    name.pos,
                    format!("input `{}` declares `publications`, which applies to task form fields only", name.value),
                );
            }
        }
    }

    fn schedules(&mut self) {
        let wf = self.wf;
        for s in &wf.schedules {
            if let crate::schedule::Target::Matching(e) = &s.workspace {
                match expr::expression_vars(&self.env, &e.source) {
                    Err(msg) => self.sink.push(
                        Code::ExpressionSyntax,
                        e.pos,
                        format!("the expression `{}` does not compile: {msg}", e.source),
                    ),
                    Ok(vars) => {
                        for v in vars.iter().filter(|v| v.split('.').next() != Some("workspace")) {
                            self.sink.push_hint(
                                Code::ExpressionOutOfScope,
                                e.pos,
                                format!("`workspaces:` sees only `workspace`, not `{v}`"),
                                Some("e.g. \"'weekly_content' in workspace.profile.services\""),
                            );
                        }
                    }
                }
            }
            let given = s.inputs.as_ref().and_then(|i| i.value.as_object().cloned()).unwrap_or_default();
            let pos = s.inputs.as_ref().map_or(s.pos, |i| i.pos);
            let mut errors = Vec::new();
            field::check_fields(&wf.inputs, &given, &[], &mut errors);
            for e in errors {
                self.sink.push(
                    Code::ScheduleInputs,
                    pos,
                    format!("the schedule's inputs do not fit the workflow: `{}` {}", e.path.join("."), e.message),
                );
            }
        }
    }
}
