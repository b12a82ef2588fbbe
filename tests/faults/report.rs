//! What a scenario found: one row per case, printed as a table.

/// One case of a scenario with its figures.
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub scenario: &'static str,
    pub case: String,
    /// Lines the writers wrote (or records the case put at risk).
    pub sent: u64,
    /// Of those, not found by a search at the end.
    pub missing: u64,
    /// Of those, found more than once.
    pub duplicated: u64,
    /// Other figures, e.g. "raw resends 1,234; slowest start 0.8 s".
    pub notes: String,
    /// Why a guarantee is broken, when it is. A row with a failure fails the run.
    pub failure: Option<String>,
}

impl Row {
    pub fn new(scenario: &'static str, case: impl Into<String>) -> Row {
        Row {
            scenario,
            case: case.into(),
            ..Row::default()
        }
    }

    /// Fails the row unless `cond`, saying `why`.
    pub fn require(&mut self, cond: bool, why: impl FnOnce() -> String) {
        if !cond && self.failure.is_none() {
            self.failure = Some(why());
        }
    }
}

/// `n` with thousands separators.
pub fn num(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The rows as a Markdown table (pasted into the README's "Reliability" section).
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| scenario | case | lines | missing | duplicated | figures | verdict |\n\
         |---|---|---:|---:|---:|---|---|\n",
    );
    for r in rows {
        let verdict = match &r.failure {
            None => "ok".to_string(),
            Some(why) => format!("**FAILED**: {why}"),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            r.scenario,
            r.case,
            num(r.sent),
            num(r.missing),
            num(r.duplicated),
            r.notes,
            verdict
        ));
    }
    out
}
