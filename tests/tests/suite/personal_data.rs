//! The subjects' key store on DynamoDB Local and moto's KMS: pseudonyms that turn back into
//! user ids until the subject is forgotten, and nothing of the subject left in the table after.

use e2e::TestEnv;
use personal_data::SubjectKeys;

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
    let writer = env.subject_keys();
    let table = env.names().subject_keys_table.clone();
    let subjects = ["carol-e2e".to_owned(), "dave-e2e".to_owned()];
    let keys = writer.key_ids(&subjects).await.unwrap();
    // Asked again, the same keys: one per subject
    assert_eq!(writer.key_ids(&subjects).await.unwrap(), keys);
    // And the table holds neither id in the clear
    let stored = scan(&env, &table).await;
    assert!(!stored.contains("carol-e2e") && !stored.contains("dave-e2e"));

    // When another process (its own cache) reads both key ids
    let reader = env.subject_keys();
    let ids = [keys["carol-e2e"], keys["dave-e2e"]];
    let found = reader.subjects(&ids).await.unwrap();

    // Then it gets the ids back through KMS
    assert_eq!(found[&keys["carol-e2e"]], "carol-e2e");
    assert_eq!(found[&keys["dave-e2e"]], "dave-e2e");

    // When carol is forgotten
    let forgotten = writer.forget("carol-e2e").await.unwrap();

    // Then her key id is the one she had, a new reader finds only dave, and her items are gone
    assert_eq!(forgotten, Some(keys["carol-e2e"]));
    let fresh = env.subject_keys();
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
