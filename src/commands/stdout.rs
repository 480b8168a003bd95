//! Where commands print: standard output, through the `println!`/`print!` of
//! [`crate::commands`], which shadow std's in every command module.
//!
//! std's macros panic when stdout is closed (`twilio-export status | head -1`). Here the first
//! failed write ends the output instead: the command goes on and ends as it would have, and
//! nothing more is printed. A reader that went away (a broken pipe) is not an error; any other
//! failure (a full disk) is reported once on stderr and makes the exit code at least 1.

use std::fmt;
use std::io::{ErrorKind, Write};

use crate::telemetry::{self, Level};
use std::sync::atomic::{AtomicU8, Ordering};

const OPEN: u8 = 0;
const CLOSED_BY_READER: u8 = 1;
const FAILED: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(OPEN);

/// Writes to stdout unless an earlier write failed.
pub fn write(args: fmt::Arguments<'_>) {
    if STATE.load(Ordering::Acquire) != OPEN {
        return;
    }
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        let state = if e.kind() == ErrorKind::BrokenPipe {
            CLOSED_BY_READER
        } else {
            FAILED
        };
        if STATE.swap(state, Ordering::AcqRel) == OPEN && state == FAILED {
            telemetry::say(
                Level::ERROR,
                format_args!("error: cannot write to stdout: {e}"),
            );
        }
    }
}

/// Whether a write to stdout failed for another reason than its reader going away.
pub fn failed() -> bool {
    STATE.load(Ordering::Acquire) == FAILED
}
