//! The subjects' key store on DynamoDB Local and moto's KMS: pseudonyms that turn back into
//! user ids until the subject is forgotten, and nothing of the subject left in the table after.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use e2e::TestEnv;
use personal_data::{KmsSubjectKeys, SubjectKeys};

/// A key store of this test's own: a fresh table and a fresh symmetric KMS key.
async fn key_store(env: &TestEnv) -> (KmsSubjectKeys, String, String) {
    let table = format!("{}-SubjectKeys", uuid::Uuid::new_v4().simple());
    env.dynamodb()
        .create_table()
        .table_name(&table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let key = env
        .clients
        .kms
        .create_key()
        .key_spec(KeySpec::SymmetricDefault)
        .key_usage(KeyUsageType::EncryptDecrypt)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let store = KmsSubjectKeys::new(
        env.dynamodb().clone(),
        env.clients.kms.clone(),
        table.clone(),
        key.clone(),
    );
    (store, table, key)
}

/// Every item of the table, as text.
async fn scan(env: &TestEnv, table: &str) -> String {
    let items = env
        .dynamodb()
        .scan()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    format!("{items:?}")
}

#[tokio::test]
async fn given_a_subjects_key_when_another_process_reads_a_pseudonym_then_it_gets_the_id_until_the_subject_is_forgotten()
 {
    // Given carol's and dave's keys, made by one process
    let env = TestEnv::new().await;
    let (writer, table, key) = key_store(&env).await;
    let subjects = ["carol-e2e".to_owned(), "dave-e2e".to_owned()];
    let keys = writer.key_ids(&subjects).await.unwrap();
    // Asked again, the same keys: one per subject
    assert_eq!(writer.key_ids(&subjects).await.unwrap(), keys);
    // And the table holds neither id in the clear
    let stored = scan(&env, &table).await;
    assert!(!stored.contains("carol-e2e") && !stored.contains("dave-e2e"));

    // When another process (its own cache) reads both key ids
    let reader = KmsSubjectKeys::new(
        env.dynamodb().clone(),
        env.clients.kms.clone(),
        table.clone(),
        key.clone(),
    );
    let ids = [keys["carol-e2e"], keys["dave-e2e"]];
    let found = reader.subjects(&ids).await.unwrap();

    // Then it gets the ids back through KMS
    assert_eq!(found[&keys["carol-e2e"]], "carol-e2e");
    assert_eq!(found[&keys["dave-e2e"]], "dave-e2e");

    // When carol is forgotten
    let forgotten = writer.forget("carol-e2e").await.unwrap();

    // Then her key id is the one she had, a new reader finds only dave, and her items are gone
    assert_eq!(forgotten, Some(keys["carol-e2e"]));
    let fresh = KmsSubjectKeys::new(
        env.dynamodb().clone(),
        env.clients.kms.clone(),
        table.clone(),
        key.clone(),
    );
    let found = fresh.subjects(&ids).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[&keys["dave-e2e"]], "dave-e2e");
    assert!(
        !scan(&env, &table)
            .await
            .contains(&keys["carol-e2e"].to_string())
    );
    // And forgetting her again finds nothing to forget
    assert_eq!(writer.forget("carol-e2e").await.unwrap(), None);
}
