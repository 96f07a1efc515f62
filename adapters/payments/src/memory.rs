//! Saga state in memory, with the DynamoDB adapter's conditional-write behaviour, for handler
//! tests and local runs without a table.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::error::SagaError;
use crate::ports::{SagaStates, StalledSagas};
use crate::saga::{Saga, SagaId, Status};

/// Clones share one table.
#[derive(Debug, Clone, Default)]
pub struct InMemorySagaStates {
    sagas: Arc<Mutex<HashMap<SagaId, Saga>>>,
}

impl InMemorySagaStates {
    pub fn new() -> Self {
        Self::default()
    }

    fn sagas(&self) -> std::sync::MutexGuard<'_, HashMap<SagaId, Saga>> {
        self.sagas.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every saga, for tests.
    pub fn all(&self) -> Vec<Saga> {
        self.sagas().values().cloned().collect()
    }

    /// Removes a saga's state behind everyone's back, for tests of what repairs it.
    pub fn remove(&self, id: &SagaId) -> Option<Saga> {
        self.sagas().remove(id)
    }
}

impl StalledSagas for InMemorySagaStates {
    async fn stalled(&self, before: DateTime<Utc>, limit: usize) -> Result<Vec<Saga>, SagaError> {
        let mut stalled: Vec<Saga> = self
            .sagas()
            .values()
            .filter(|saga| is_stalled(saga, before))
            .cloned()
            .collect();
        stalled.sort_by(|a, b| (a.updated_at, a.id.as_str()).cmp(&(b.updated_at, b.id.as_str())));
        stalled.truncate(limit);
        Ok(stalled)
    }
}

/// Still under way (forward or compensating), and untouched since before `before`.
pub(crate) fn is_stalled(saga: &Saga, before: DateTime<Utc>) -> bool {
    matches!(saga.status, Status::Running | Status::Compensating) && saga.updated_at < before
}

impl SagaStates for InMemorySagaStates {
    async fn get(&self, id: &SagaId) -> Result<Option<Saga>, SagaError> {
        Ok(self.sagas().get(id).cloned())
    }

    async fn save(&self, saga: &Saga) -> Result<(), SagaError> {
        let mut sagas = self.sagas();
        let stored = sagas.get(&saga.id).map(|s| s.revision);
        let expected = saga.revision.checked_sub(1).filter(|r| *r > 0);
        if stored != expected {
            return Err(SagaError::Conflict {
                saga_id: saga.id.clone(),
            });
        }
        sagas.insert(saga.id.clone(), saga.clone());
        Ok(())
    }
}
