//! Log lines as runc writes them: to `--log` (containerd's shim reads that file and
//! shows the message) in text or JSON, and errors also to stderr.

use crate::cli::LogFormat;
use std::io::Write;
use std::path::PathBuf;

/// Where log lines go.
pub struct Logger {
    pub file: Option<PathBuf>,
    pub format: LogFormat,
    pub debug: bool,
}

impl Logger {
    fn write(&self, level: &str, msg: &str) {
        let time = humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string();
        let line = match self.format {
            LogFormat::Json => format!("{}\n", serde_json::json!({"level": level, "msg": msg, "time": time})),
            LogFormat::Text => format!("time={time:?} level={level} msg={msg:?}\n"),
        };
        match &self.file {
            Some(p) => {
                if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(p) {
                    let _ = f.write_all(line.as_bytes());
                }
            }
            None if level == "debug" => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
            None => {}
        }
    }

    /// An error: to the log and, as one plain line, to stderr.
    pub fn error(&self, msg: &str) {
        self.write("error", msg);
        let _ = writeln!(std::io::stderr(), "hull-runtime: {msg}");
    }

    /// A warning (a failed hook, a config field not enforced).
    pub fn warn(&self, msg: &str) {
        self.write("warning", msg);
        let _ = writeln!(std::io::stderr(), "hull-runtime: warning: {msg}");
    }

    /// A debug line, with `--debug` only.
    pub fn debug(&self, msg: &str) {
        if self.debug {
            self.write("debug", msg);
        }
    }
}
