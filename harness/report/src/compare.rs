//! Checking regenerated results against committed ones. Text must match exactly; numbers may
//! differ within a tolerance read from a YAML file kept beside the committed results, because a
//! different CPU can sum floats in another order (the same machine reproduces them bit for bit).
//!
//! ```yaml
//! absolute: 0.05   # |a - b| <= absolute + relative * max(|a|, |b|)
//! relative: 0.02
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{Error, Result};

/// How far a regenerated number may be from the committed one.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tolerance {
    /// Allowed absolute difference.
    pub absolute: f64,
    /// Allowed difference relative to the larger magnitude.
    pub relative: f64,
}

impl Tolerance {
    /// Read a tolerance file.
    pub fn load(path: &Path) -> Result<Tolerance> {
        let text = std::fs::read_to_string(path).map_err(Error::io("reading", path))?;
        let tolerance: Tolerance =
            serde_saphyr::from_str(&text).map_err(|err| Error::Tolerance {
                path: path.to_path_buf(),
                message: err.to_string(),
            })?;
        if !(tolerance.absolute >= 0.0 && tolerance.relative >= 0.0) {
            return Err(Error::Tolerance {
                path: path.to_path_buf(),
                message: "`absolute` and `relative` must be >= 0".into(),
            });
        }
        Ok(tolerance)
    }

    fn accepts(&self, a: f64, b: f64) -> bool {
        (a - b).abs() <= self.absolute + self.relative * a.abs().max(b.abs())
            || (a.is_nan() && b.is_nan())
    }
}

/// The files a comparison covers, relative to a results folder: the merged results table and
/// every table.
pub fn compared_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = vec![PathBuf::from("results.csv")];
    let tables = dir.join("tables");
    let entries = std::fs::read_dir(&tables).map_err(Error::io("listing", &tables))?;
    let mut names: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter_map(|p| p.file_name().map(|n| Path::new("tables").join(n)))
        .collect();
    names.sort();
    files.extend(names);
    Ok(files)
}

/// Every difference between the committed folder `expected` and the regenerated `actual`
/// beyond `tolerance`, one message per file (empty when they agree).
pub fn compare_dirs(expected: &Path, actual: &Path, tolerance: &Tolerance) -> Result<Vec<String>> {
    let wanted = compared_files(expected)?;
    let produced = compared_files(actual)?;
    let mut problems = Vec::new();
    for file in produced.iter().filter(|f| !wanted.contains(f)) {
        problems.push(format!("{}: regenerated but not committed", file.display()));
    }
    for file in &wanted {
        let read = |dir: &Path| {
            let path = dir.join(file);
            std::fs::read_to_string(&path).map_err(Error::io("reading", path))
        };
        if !produced.contains(file) {
            problems.push(format!("{}: committed but not regenerated", file.display()));
            continue;
        }
        if let Some(difference) = compare_text(&read(expected)?, &read(actual)?, tolerance) {
            problems.push(format!("{}: {difference}", file.display()));
        }
    }
    Ok(problems)
}

/// A piece of a text: a number, or anything else.
#[derive(Debug, Clone, PartialEq)]
enum Token<'a> {
    Number(f64, &'a str),
    Text(&'a str),
}

/// Split `text` into numbers and the text between them.
fn tokens(text: &str) -> Vec<Token<'_>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut text_start) = (0, 0);
    while i < bytes.len() {
        let starts_number = bytes[i].is_ascii_digit()
            || (matches!(bytes[i], b'-' | b'+' | b'.')
                && bytes.get(i + 1).is_some_and(u8::is_ascii_digit));
        if !starts_number {
            i += 1;
            continue;
        }
        let mut end = i + 1;
        let mut seen_dot = bytes[i] == b'.';
        while end < bytes.len() {
            match bytes[end] {
                b'0'..=b'9' => end += 1,
                b'.' if !seen_dot => {
                    seen_dot = true;
                    end += 1
                }
                b'e' | b'E'
                    if bytes.get(end + 1).is_some_and(|b| b.is_ascii_digit())
                        || (matches!(bytes.get(end + 1), Some(b'-' | b'+'))
                            && bytes.get(end + 2).is_some_and(u8::is_ascii_digit)) =>
                {
                    end += 2;
                    while end < bytes.len() && bytes[end].is_ascii_digit() {
                        end += 1;
                    }
                    break;
                }
                _ => break,
            }
        }
        if let Ok(value) = text[i..end].parse::<f64>() {
            if text_start < i {
                out.push(Token::Text(&text[text_start..i]));
            }
            out.push(Token::Number(value, &text[i..end]));
            text_start = end;
        }
        i = end;
    }
    if text_start < bytes.len() {
        out.push(Token::Text(&text[text_start..]));
    }
    out
}

/// The first difference between two texts beyond `tolerance`, described with its line.
fn compare_text(expected: &str, actual: &str, tolerance: &Tolerance) -> Option<String> {
    for (line, (want, got)) in expected.lines().zip(actual.lines()).enumerate() {
        let (want_tokens, got_tokens) = (tokens(want), tokens(got));
        let differs = want_tokens.len() != got_tokens.len()
            || want_tokens.iter().zip(&got_tokens).any(|pair| match pair {
                (Token::Number(a, _), Token::Number(b, _)) => !tolerance.accepts(*a, *b),
                (a, b) => a != b,
            });
        if differs {
            return Some(format!(
                "line {} differs beyond the tolerance\n  committed:   {want}\n  regenerated: {got}",
                line + 1
            ));
        }
    }
    let (want, got) = (expected.lines().count(), actual.lines().count());
    (want != got).then(|| format!("{want} lines committed, {got} regenerated"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOLERANCE: Tolerance = Tolerance {
        absolute: 0.05,
        relative: 0.01,
    };

    #[test]
    fn numbers_are_split_out_of_text() {
        assert_eq!(
            tokens("T=8 | 27.62 ± 0.71 | p99.9 -1.5e-3"),
            [
                Token::Text("T="),
                Token::Number(8.0, "8"),
                Token::Text(" | "),
                Token::Number(27.62, "27.62"),
                Token::Text(" ± "),
                Token::Number(0.71, "0.71"),
                Token::Text(" | p"),
                Token::Number(99.9, "99.9"),
                Token::Text(" "),
                Token::Number(-1.5e-3, "-1.5e-3"),
            ]
        );
    }

    #[test]
    fn small_numeric_drift_passes_and_anything_else_fails() {
        let committed = "method,T=8\nANN,27.62\nMT,1.2345e6\n";
        assert_eq!(
            compare_text(
                committed,
                "method,T=8\nANN,27.64\nMT,1.2400e6\n",
                &TOLERANCE
            ),
            None
        );
        let message = compare_text(
            committed,
            "method,T=8\nANN,28.62\nMT,1.2345e6\n",
            &TOLERANCE,
        )
        .expect("1 dB is beyond 0.05 + 1 % of 28.62");
        assert!(
            message.contains("line 2") && message.contains("28.62"),
            "{message}"
        );
        assert!(
            compare_text(committed, "method,T=8\nIF,27.62\nMT,1.2345e6\n", &TOLERANCE).is_some()
        );
        assert!(compare_text(committed, "method,T=8\nANN,27.62\n", &TOLERANCE).is_some());
    }

    #[test]
    fn folders_report_missing_and_extra_tables() {
        let (a, b) = (
            tempfile::tempdir().expect("dir"),
            tempfile::tempdir().expect("dir"),
        );
        for dir in [a.path(), b.path()] {
            std::fs::create_dir_all(dir.join("tables")).expect("mkdir");
            std::fs::write(dir.join("results.csv"), "metric,value\npsnr,27.1\n").expect("write");
        }
        std::fs::write(a.path().join("tables/x.md"), "| 1 |").expect("write");
        std::fs::write(b.path().join("tables/y.md"), "| 1 |").expect("write");
        let problems = compare_dirs(a.path(), b.path(), &TOLERANCE).expect("compare");
        assert_eq!(problems.len(), 2, "{problems:?}");
        std::fs::rename(b.path().join("tables/y.md"), b.path().join("tables/x.md")).expect("mv");
        assert!(
            compare_dirs(a.path(), b.path(), &TOLERANCE)
                .expect("compare")
                .is_empty()
        );
    }
}
