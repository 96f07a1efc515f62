//! Saga state in memory, with the DynamoDB adapter's conditional-write behaviour, for handler
//! tests and local runs without a table.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::SagaError;
use crate::ports::SagaStates;
use crate::saga::{Saga, SagaId};

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
