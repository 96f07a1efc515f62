//! How far each stream mapping has processed each shard, kept in a DynamoDB table so that a
//! restarted runner resumes where the last one stopped.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::TriggerError;

/// A shard's progress under one mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// The last record processed (or given up on); `None` before the first.
    pub sequence_number: Option<String>,
    /// The shard is closed and every record of it was processed: its children may start.
    pub finished: bool,
}

/// Checkpoints in the `TRIGGER_CHECKPOINTS_TABLE` table (key `mapping`, `shardId`).
#[derive(Debug, Clone)]
pub struct DynamoDbCheckpoints {
    client: Client,
    table: String,
}

impl DynamoDbCheckpoints {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub async fn load(&self, mapping: &str, shard_id: &str) -> Result<Checkpoint, TriggerError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("mapping", AttributeValue::S(mapping.to_owned()))
            .key("shardId", AttributeValue::S(shard_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| TriggerError::aws("GetItem", &self.table, e))?;
        let Some(item) = output.item else {
            return Ok(Checkpoint::default());
        };
        Ok(Checkpoint {
            sequence_number: item
                .get("sequenceNumber")
                .and_then(|value| value.as_s().ok())
                .cloned(),
            finished: item
                .get("finished")
                .and_then(|value| value.as_bool().ok())
                .copied()
                .unwrap_or(false),
        })
    }

    /// Records that every record up to and including `sequence_number` is done.
    pub async fn save(
        &self,
        mapping: &str,
        shard_id: &str,
        checkpoint: &Checkpoint,
    ) -> Result<(), TriggerError> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("mapping", AttributeValue::S(mapping.to_owned()))
            .item("shardId", AttributeValue::S(shard_id.to_owned()))
            .item("finished", AttributeValue::Bool(checkpoint.finished))
            .item(
                "updatedAt",
                AttributeValue::S(chrono::Utc::now().to_rfc3339()),
            );
        if let Some(sequence_number) = &checkpoint.sequence_number {
            put = put.item("sequenceNumber", AttributeValue::S(sequence_number.clone()));
        }
        put.send()
            .await
            .map_err(|e| TriggerError::aws("PutItem", &self.table, e))?;
        Ok(())
    }
}
