//! A scripted event source for deterministic daemon tests.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::{EventSource, FsEvent};

/// Hands out pre-arranged batches; shared so a test can push more while the daemon runs.
#[derive(Clone, Default)]
pub struct FakeSource {
    pub batches: Arc<Mutex<VecDeque<Vec<FsEvent>>>>,
    pub resyncs: Arc<Mutex<usize>>,
}

impl FakeSource {
    pub fn push(&self, batch: Vec<FsEvent>) {
        self.batches.lock().expect("fake source lock").push_back(batch);
    }
}

impl EventSource for FakeSource {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn wait(&mut self, timeout: Duration) -> std::io::Result<Vec<FsEvent>> {
        if let Some(b) = self.batches.lock().expect("fake source lock").pop_front() {
            return Ok(b);
        }
        std::thread::sleep(timeout.min(Duration::from_millis(5)));
        Ok(Vec::new())
    }

    fn resync(&mut self, _roots: &[PathBuf]) -> std::io::Result<()> {
        *self.resyncs.lock().expect("fake source lock") += 1;
        Ok(())
    }
}
