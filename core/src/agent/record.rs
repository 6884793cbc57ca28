//! An agent run in the encrypted store: the task and final reply as a conversation, and each
//! step (tool, input, full output, files, time, the exact request bytes) as an agent step.

use sotto_private_inference::VerifiedReply;
use sotto_store::{AgentStepRecord, Store, StoreError};

use super::Step;
use crate::history::Recorder;

pub struct AgentRecorder<'s> {
    store: &'s Store,
    run_id: String,
    conversation: Option<Recorder<'s>>,
}

impl<'s> AgentRecorder<'s> {
    pub fn new(store: &'s Store) -> Self {
        Self { store, run_id: uuid::Uuid::new_v4().simple().to_string(), conversation: None }
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    pub fn conversation_id(&self) -> Option<&str> {
        self.conversation.as_ref().map(Recorder::conversation_id)
    }

    /// The task, durably, before its request is sent; `sent` is that request (step 0).
    pub fn task(&mut self, task: &str, sent: Option<&[u8]>) -> Result<(), StoreError> {
        let (recorder, _) = Recorder::start(self.store, None, task)?;
        self.conversation = Some(recorder);
        self.insert(0, "task", task, "", &[], 0, sent)
    }

    pub fn step(&mut self, step: &Step, sent: Option<&[u8]>) -> Result<(), StoreError> {
        let input = match &step.input {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        self.insert(step.n as i64, &step.tool, &input, &step.output, &step.files, step.duration_ms as i64, sent)
    }

    pub fn answered(&mut self, reply: &VerifiedReply) -> Result<(), StoreError> {
        self.conversation.as_mut().map_or(Ok(()), |c| c.verified(reply))
    }

    pub fn failed(&mut self, reason: &str) -> Result<(), StoreError> {
        self.conversation.as_mut().map_or(Ok(()), |c| c.failed(reason))
    }

    pub fn stopped(&mut self, reason: &str) -> Result<(), StoreError> {
        self.conversation.as_mut().map_or(Ok(()), |c| c.stopped(reason))
    }

    #[allow(clippy::too_many_arguments)]
    fn insert(&self, n: i64, tool: &str, input: &str, output: &str, files: &[String], duration_ms: i64, sent: Option<&[u8]>) -> Result<(), StoreError> {
        self.store
            .record_agent_step(&AgentStepRecord {
                conversation_id: self.conversation_id().map(String::from),
                run_id: self.run_id.clone(),
                step: n,
                tool: tool.into(),
                input: input.into(),
                output: output.into(),
                files: files.to_vec(),
                duration_ms,
                sent_bytes: sent.map(<[u8]>::to_vec),
            })
            .map(|_| ())
    }
}
