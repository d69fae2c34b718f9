//! End-to-end tests of the harness binaries, one module per behaviour:
mod util;

// Train, kill mid-run, rerun: the run resumes and ends where an uninterrupted one does.
mod resume;
// Bad configs give one clear error naming file, line and field; exit code 1, no backtrace.
mod config_errors;
// train → evaluate on a tiny config writes the artifact folder the issue describes.
mod train_evaluate;
// A sweep in two shards, merged by `report`; reuse after a rerun; the CI comparison.
mod sweep_report;
// `datasets` list/info/fetch/verify against the loopback mock hub, then train and evaluate
// on the fetched benchmark offline.
mod datasets;
// --set, --backend, --threads, --version, --log-format json on every binary; planning reads no
// dataset.
mod options;
// Byte flips and edits in every artifact kind, damaged and impossible result tables, runs
// killed at arbitrary moments: the right numbers or a clear error, never wrong numbers.
mod faults;
