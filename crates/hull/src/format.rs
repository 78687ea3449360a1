//! Output in Docker's shapes: tables padded as its tabwriter pads them, sizes as its
//! go-units prints them, and Go-style `{{.Field}}` templates over JSON values.

use serde_json::Value;
use std::io::Write;

/// Expands `{{.Field}}`, `{{.A.B}}` and `{{json .X}}` against `v` (Go template basics).
pub fn template(t: &str, v: &Value) -> String {
    let t = t.replace("\\t", "\t").replace("\\n", "\n");
    let mut out = String::new();
    let mut rest = t.as_str();
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let expr = rest[start + 2..start + end].trim();
        let (as_json, path) = match expr.strip_prefix("json ") {
            Some(p) => (true, p.trim()),
            None => (false, expr),
        };
        let mut cur = v;
        let null = Value::Null;
        for part in path.trim_start_matches('.').split('.').filter(|s| !s.is_empty()) {
            cur = cur.get(part).unwrap_or(&null);
        }
        match (as_json, cur) {
            (true, x) => out.push_str(&x.to_string()),
            (false, Value::String(s)) => out.push_str(s),
            (false, Value::Null) => out.push_str("<no value>"),
            (false, Value::Array(a)) => {
                let items: Vec<String> =
                    a.iter().map(|x| x.as_str().map(str::to_string).unwrap_or(x.to_string())).collect();
                out.push_str(&format!("[{}]", items.join(" ")));
            }
            (false, Value::Object(o)) => {
                let items: Vec<String> = o
                    .iter()
                    .map(|(k, x)| format!("{k}:{}", x.as_str().map(str::to_string).unwrap_or(x.to_string())))
                    .collect();
                out.push_str(&format!("map[{}]", items.join(" ")));
            }
            (false, x) => out.push_str(&x.to_string()),
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

/// Sizes as Docker prints them (decimal units, 3 significant digits).
pub fn human_size(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    let s = format!("{v:.3}");
    let s = if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        s[..s.len().min(4)].to_string()
    };
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    format!("{s}{}", units[i])
}

/// Columns padded to their widest cell plus three spaces, as Docker's tabwriter.
pub fn print_table(out: &mut dyn Write, rows: &[Vec<String>]) {
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let widths: Vec<usize> =
        (0..cols).map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0)).collect();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}", w = widths[i] + 3));
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}
