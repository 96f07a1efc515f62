//! The Parked table's in-memory twin, for tests.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::error::ParkingError;
use crate::parked::{Parked, ParkedItems};

/// Parked items in a map, keyed as the table is.
#[derive(Debug, Default)]
pub struct InMemoryParked {
    items: Mutex<BTreeMap<(String, String), Parked>>,
}

impl InMemoryParked {
    pub fn new() -> Self {
        Self::default()
    }

    fn items(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), Parked>> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ParkedItems for InMemoryParked {
    async fn put(&self, item: &Parked) -> Result<(), ParkingError> {
        self.items()
            .insert((item.consumer.clone(), item.parked_id()), item.clone());
        Ok(())
    }

    async fn list(&self, consumer: Option<&str>) -> Result<Vec<Parked>, ParkingError> {
        Ok(self
            .items()
            .values()
            .filter(|item| consumer.is_none_or(|c| item.consumer == c))
            .cloned()
            .collect())
    }

    async fn get(&self, consumer: &str, parked_id: &str) -> Result<Option<Parked>, ParkingError> {
        Ok(self
            .items()
            .get(&(consumer.to_owned(), parked_id.to_owned()))
            .cloned())
    }

    async fn remove(&self, consumer: &str, parked_id: &str) -> Result<bool, ParkingError> {
        Ok(self
            .items()
            .remove(&(consumer.to_owned(), parked_id.to_owned()))
            .is_some())
    }
}
