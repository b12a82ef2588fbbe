//! Query-string parameters: each endpoint names the ones it takes, an unknown one is refused
//! (a typo such as `apps=` must not silently search everything), a repeated `app` or `host` adds
//! to the list, and the filters every search endpoint shares become a [`SearchRequest`].

use std::collections::BTreeMap;
use std::str::FromStr;

use jiff::{Timestamp, Zoned};
use logq_schemas::LevelRange;
use logq_schemas::timespec::parse_time_spec;

use super::ApiError;
use crate::index::{Names, SearchRequest};
use crate::query::Query;

/// The filter parameters of search, histogram and tail.
pub const FILTERS: &[&str] = &["q", "app", "host", "level", "since", "until"];

/// The parameters of one request.
#[derive(Debug, Default)]
pub struct Params {
    values: BTreeMap<String, Vec<String>>,
}

impl Params {
    /// Takes `raw` (in order), refusing names outside `allowed`.
    pub fn new(raw: Vec<(String, String)>, allowed: &[&[&str]]) -> Result<Params, ApiError> {
        let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in raw {
            if !allowed.iter().any(|set| set.contains(&name.as_str())) {
                let all: Vec<&str> = allowed.iter().flat_map(|s| s.iter().copied()).collect();
                return Err(ApiError::BadRequest(format!(
                    "unknown parameter {name:?} (this endpoint takes {})",
                    all.join(", ")
                )));
            }
            values.entry(name).or_default().push(value);
        }
        Ok(Params { values })
    }

    /// The last value of `name`, when given and not blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.last())
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }

    /// Every comma-separated value of every `name` parameter.
    pub fn list(&self, name: &str) -> Vec<&str> {
        self.values
            .get(name)
            .into_iter()
            .flatten()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// `name` as a number, `default` when absent; out of `max` or unreadable is refused.
    pub fn number<T>(&self, name: &str, default: T, max: T) -> Result<T, ApiError>
    where
        T: FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let Some(text) = self.get(name) else {
            return Ok(default);
        };
        match text.parse::<T>() {
            Ok(n) if n <= max => Ok(n),
            _ => Err(ApiError::BadRequest(format!(
                "{name} must be a whole number from 0 to {max}, not {text:?}"
            ))),
        }
    }

    fn time(&self, name: &str, now: &Zoned) -> Result<Option<Timestamp>, ApiError> {
        self.get(name)
            .map(|s| {
                parse_time_spec(s, now).map_err(|e| ApiError::BadRequest(format!("{name}: {e}")))
            })
            .transpose()
    }

    /// The search the filter parameters describe (limit left at its default).
    pub fn search_request(&self, now: &Zoned) -> Result<SearchRequest, ApiError> {
        let query = Query::parse(self.get("q").unwrap_or("*"))
            .map_err(|e| ApiError::BadRequest(format!("invalid query: {e}")))?;
        let levels = self
            .get("level")
            .map(LevelRange::from_str)
            .transpose()
            .map_err(|e| ApiError::BadRequest(format!("level: {e}")))?;
        let names = |name: &str| {
            Names::new(self.list(name)).map_err(|e| ApiError::BadRequest(format!("{name}: {e}")))
        };
        let req = SearchRequest {
            apps: names("app")?,
            hosts: names("host")?,
            levels,
            since: self.time("since", now)?,
            until: self.time("until", now)?,
            ..SearchRequest::new(query)
        };
        if let (Some(since), Some(until)) = (req.since, req.until)
            && since > until
        {
            return Err(ApiError::BadRequest(format!(
                "since ({since}) is after until ({until})"
            )));
        }
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(raw: &[(&str, &str)]) -> Result<Params, ApiError> {
        Params::new(
            raw.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            &[FILTERS, &["limit"]],
        )
    }

    fn message(e: ApiError) -> String {
        match e {
            ApiError::BadRequest(m) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_names_are_refused_with_the_known_ones() {
        let err = message(params(&[("apps", "web")]).expect_err("unknown"));
        assert!(
            err.contains("\"apps\"") && err.contains("app, host"),
            "{err}"
        );
    }

    #[test]
    fn lists_gather_repeats_and_commas() {
        let p = params(&[("app", "a, b"), ("app", "c"), ("host", " ")]).expect("params");
        assert_eq!(p.list("app"), ["a", "b", "c"]);
        assert!(p.list("host").is_empty() && p.get("host").is_none());
    }

    #[test]
    fn filters_become_a_request_and_bad_ones_say_which() {
        let now: Zoned = "2026-11-23T10:00:00+00:00[UTC]".parse().expect("now");
        let p =
            params(&[("q", "level:error x"), ("level", "warn"), ("since", "1h")]).expect("params");
        let req = p.search_request(&now).expect("request");
        assert_eq!(req.since, Some("2026-11-23T09:00:00Z".parse().expect("ts")));
        assert_eq!(
            req.levels.map(|l| l.to_string()).as_deref(),
            Some("warn..fatal")
        );
        for (raw, says) in [
            (("level", "loud"), "level: unknown level"),
            (("since", "last week"), "since:"),
            (("q", "(a"), "invalid query"),
        ] {
            let err = message(
                params(&[raw])
                    .expect("params")
                    .search_request(&now)
                    .expect_err("bad"),
            );
            assert!(err.starts_with(says), "{err}");
        }
        let err = message(
            params(&[("since", "1h"), ("until", "2h")])
                .expect("params")
                .search_request(&now)
                .expect_err("inverted"),
        );
        assert!(err.contains("is after until"), "{err}");
        let err = message(
            params(&[("limit", "-1")])
                .expect("params")
                .number("limit", 1usize, 10)
                .expect_err("negative"),
        );
        assert!(err.contains("limit must be a whole number"), "{err}");
    }
}
