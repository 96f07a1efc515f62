//! What the edges of the platform need of the key store, as one object-safe port: the caller's
//! pseudonym before a command, and pseudonyms turned back into user ids for an answer.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use events::UserId;

use crate::error::PersonalDataError;
use crate::ports::SubjectKeys;
use crate::token::{KeyId, erased, pseudonym, pseudonym_key};

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, PersonalDataError>> + Send + 'a>>;

/// Pseudonyms for the edges (the API, the live updates, the admin tools).
pub trait Pseudonyms: Send + Sync {
    /// The subject's pseudonym, their key made on first use. A pseudonym or an erased marker
    /// is its own pseudonym.
    fn pseudonym_of<'a>(&'a self, subject: &'a UserId) -> Boxed<'a, UserId>;

    /// The subject's pseudonym if they have a key; `None` if they never had one or were
    /// forgotten. Never makes a key.
    fn existing_pseudonym<'a>(&'a self, subject: &'a UserId) -> Boxed<'a, Option<UserId>>;

    /// Deletes the subject's key (`SubjectKeys::forget`): their pseudonym reads as erased from
    /// now on. The pseudonym they had; `None` if they had none.
    fn forget<'a>(&'a self, subject: &'a UserId) -> Boxed<'a, Option<UserId>>;

    /// What each of `ids` names: a pseudonym its subject's user id, or the erased marker if
    /// they were forgotten; any other id (one written before pseudonyms) itself.
    fn reveal<'a>(&'a self, ids: &'a [UserId]) -> Boxed<'a, HashMap<UserId, UserId>>;
}

impl<T: SubjectKeys> Pseudonyms for T {
    fn pseudonym_of<'a>(&'a self, subject: &'a UserId) -> Boxed<'a, UserId> {
        Box::pin(async move {
            let text = subject.as_str();
            if pseudonym_key(text).is_some() || crate::token::is_erased(text) {
                return Ok(subject.clone());
            }
            let keys = self.key_ids(&[text.to_owned()]).await?;
            let key_id = keys
                .get(text)
                .copied()
                .ok_or_else(|| PersonalDataError::NoKey(text.to_owned()))?;
            UserId::try_from(pseudonym(key_id)).map_err(|_| PersonalDataError::NotAUserId)
        })
    }

    fn existing_pseudonym<'a>(&'a self, subject: &'a UserId) -> Boxed<'a, Option<UserId>> {
        Box::pin(async move {
            self.key_id_of(subject.as_str())
                .await?
                .map(|key_id| {
                    UserId::try_from(pseudonym(key_id)).map_err(|_| PersonalDataError::NotAUserId)
                })
                .transpose()
        })
    }

    fn forget<'a>(&'a self, subject: &'a UserId) -> Boxed<'a, Option<UserId>> {
        Box::pin(async move {
            SubjectKeys::forget(self, subject.as_str())
                .await?
                .map(|key_id| {
                    UserId::try_from(pseudonym(key_id)).map_err(|_| PersonalDataError::NotAUserId)
                })
                .transpose()
        })
    }

    fn reveal<'a>(&'a self, ids: &'a [UserId]) -> Boxed<'a, HashMap<UserId, UserId>> {
        Box::pin(async move {
            let keyed: Vec<(UserId, KeyId)> = ids
                .iter()
                .filter_map(|id| pseudonym_key(id.as_str()).map(|key| (id.clone(), key)))
                .collect();
            let mut key_ids: Vec<KeyId> = keyed.iter().map(|(_, key)| *key).collect();
            key_ids.sort_unstable();
            key_ids.dedup();
            let subjects = self.subjects(&key_ids).await?;
            let mut revealed = HashMap::with_capacity(ids.len());
            for id in ids {
                revealed.insert(id.clone(), id.clone());
            }
            for (id, key_id) in keyed {
                let text = subjects
                    .get(&key_id)
                    .cloned()
                    .unwrap_or_else(|| erased(key_id));
                let shown = UserId::try_from(text).map_err(|_| PersonalDataError::NotAUserId)?;
                revealed.insert(id, shown);
            }
            Ok(revealed)
        })
    }
}

/// `json` (a JSON document's text) with every string that is a pseudonym replaced by what it
/// reveals (`Pseudonyms::reveal`), and every `masked:<pseudonym>` by what it reveals masked
/// (`token::mask`: `b***b`; an erased subject stays `erased:<key id>`), the rest byte for byte
/// as it was; `None` when it holds no pseudonym. Only whole string values are replaced: a pseudonym quoted inside another string
/// (escaped quotes) or part of a longer text is left alone.
pub async fn reveal_json(
    pseudonyms: &dyn Pseudonyms,
    json: &[u8],
) -> Result<Option<Vec<u8>>, PersonalDataError> {
    let found = pseudonyms_in_json(json);
    if found.is_empty() {
        return Ok(None);
    }
    let ids: Vec<UserId> = found.iter().map(|found| found.id.clone()).collect();
    let revealed = pseudonyms.reveal(&ids).await?;
    let mut out = Vec::with_capacity(json.len());
    let mut written = 0;
    for Found { range, id, masked } in found {
        out.extend_from_slice(&json[written..range.start]);
        let shown = revealed.get(&id).unwrap_or(&id).as_str();
        let shown = if masked && !crate::token::is_erased(shown) {
            crate::token::mask(shown)
        } else {
            shown.to_owned()
        };
        let quoted = serde_json::to_vec(&shown).map_err(|_| PersonalDataError::NotAUserId)?;
        out.extend_from_slice(&quoted);
        written = range.end;
    }
    out.extend_from_slice(&json[written..]);
    Ok(Some(out))
}

/// The field an exported line's revealed pseudonyms go in: beside the stored envelope and its
/// hash, never in them, so that the line still verifies and imports as it was.
pub const REVEALED_FIELD: &str = "revealed";

/// JSON Lines (an export) with each line that holds pseudonyms given a [`REVEALED_FIELD`]: an
/// object from each pseudonym to what it reveals (the user id, or `erased:<key id>` for a
/// forgotten subject). The rest of each line is as it was, but for its keys' order (sorted).
pub async fn reveal_lines(
    pseudonyms: &dyn Pseudonyms,
    lines: &str,
) -> Result<String, PersonalDataError> {
    let found = pseudonyms_in_json(lines.as_bytes());
    if found.is_empty() {
        return Ok(lines.to_owned());
    }
    let mut ids: Vec<UserId> = found.into_iter().map(|found| found.id).collect();
    ids.sort_unstable();
    ids.dedup();
    let revealed = pseudonyms.reveal(&ids).await?;
    let mut out = String::with_capacity(lines.len() * 2);
    for line in lines.split_inclusive('\n') {
        let (text, end) = match line.strip_suffix('\n') {
            Some(text) => (text, "\n"),
            None => (line, ""),
        };
        let in_line = pseudonyms_in_json(text.as_bytes());
        let parsed = serde_json::from_str::<serde_json::Value>(text);
        match (in_line.is_empty(), parsed) {
            (false, Ok(serde_json::Value::Object(mut fields))) => {
                let shown: serde_json::Map<String, serde_json::Value> = in_line
                    .into_iter()
                    .map(|Found { id, .. }| {
                        let to = revealed.get(&id).unwrap_or(&id).as_str().to_owned();
                        (id.as_str().to_owned(), serde_json::Value::String(to))
                    })
                    .collect();
                fields.insert(REVEALED_FIELD.to_owned(), serde_json::Value::Object(shown));
                let text =
                    serde_json::to_string(&fields).map_err(|_| PersonalDataError::NotAUserId)?;
                out.push_str(&text);
            }
            _ => out.push_str(text),
        }
        out.push_str(end);
    }
    Ok(out)
}

/// A pseudonym found in a JSON text: where it is quoted (the range covers the quotes), and
/// whether the answer asked for it masked (`masked:<pseudonym>`).
struct Found {
    range: std::ops::Range<usize>,
    id: UserId,
    masked: bool,
}

/// The quoted pseudonyms in `json`, plain or masked.
fn pseudonyms_in_json(json: &[u8]) -> Vec<Found> {
    // The prefix, a key id (a UUID, at most 45 characters in any of its forms), a quote.
    const LONGEST: usize = crate::token::PSEUDONYM_PREFIX.len() + 45;
    let needle = crate::token::PSEUDONYM_PREFIX.as_bytes();
    let masked_opening = format!("\"{}", crate::token::MASKED_PREFIX);
    let masked_opening = masked_opening.as_bytes();
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(offset) = find(&json[at..], needle) {
        let text_start = at + offset;
        at = text_start + 1;
        let (start, masked) = if text_start >= 1 && json[text_start - 1] == b'"' {
            (text_start - 1, false)
        } else if json[..text_start].ends_with(masked_opening) {
            (text_start - masked_opening.len(), true)
        } else {
            continue;
        };
        if start > 0 && json[start - 1] == b'\\' {
            continue;
        }
        let window = &json[text_start..json.len().min(text_start + LONGEST + 1)];
        let Some(length) = window.iter().position(|byte| *byte == b'"') else {
            continue;
        };
        let Ok(text) = std::str::from_utf8(&json[text_start..text_start + length]) else {
            continue;
        };
        if pseudonym_key(text).is_none() {
            continue;
        }
        let Ok(id) = UserId::try_from(text) else {
            continue;
        };
        let end = text_start + length + 1;
        found.push(Found {
            range: start..end,
            id,
            masked,
        });
        at = end;
    }
    found
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::InMemorySubjectKeys;

    fn user(id: &str) -> UserId {
        UserId::try_from(id).unwrap()
    }

    #[tokio::test]
    async fn given_a_subjects_pseudonym_then_it_reveals_them_until_they_are_forgotten() {
        // Given carol's pseudonym
        let keys = InMemorySubjectKeys::default();
        let carol = keys.pseudonym_of(&user("carol")).await.unwrap();
        assert!(carol.as_str().starts_with("subject:"));
        // Asked again, the same; a pseudonym is its own
        assert_eq!(keys.pseudonym_of(&user("carol")).await.unwrap(), carol);
        assert_eq!(keys.pseudonym_of(&carol).await.unwrap(), carol);

        // Then it reveals carol, and an id from before pseudonyms reveals itself
        let ids = [carol.clone(), user("legacy-bob")];
        let revealed = keys.reveal(&ids).await.unwrap();
        assert_eq!(revealed[&carol], user("carol"));
        assert_eq!(revealed[&user("legacy-bob")], user("legacy-bob"));

        assert_eq!(
            keys.existing_pseudonym(&user("carol")).await.unwrap(),
            Some(carol.clone())
        );
        assert_eq!(keys.existing_pseudonym(&user("dora")).await.unwrap(), None);

        // When carol is forgotten, her pseudonym reveals the erased marker
        let forgotten = Pseudonyms::forget(&keys, &user("carol")).await.unwrap();
        assert_eq!(forgotten, Some(carol.clone()));
        assert_eq!(keys.existing_pseudonym(&user("carol")).await.unwrap(), None);
        let revealed = keys.reveal(&ids).await.unwrap();
        let key = pseudonym_key(carol.as_str()).unwrap();
        assert_eq!(revealed[&carol].as_str(), erased(key));
    }

    #[tokio::test]
    async fn given_a_json_answer_then_its_pseudonyms_are_revealed_and_the_rest_kept() {
        // Given an answer naming carol and dan by their pseudonyms, one of them also quoted
        // inside another string and one inside a longer text
        let keys = InMemorySubjectKeys::default();
        let carol = keys.pseudonym_of(&user("carol")).await.unwrap();
        let dan = keys.pseudonym_of(&user("dan\"q")).await.unwrap();
        let json = format!(
            r#"{{"sellerId":"{carol}", "bids":[{{"bidderId":"{dan}"}},{{"bidderId":"{carol}"}}],"note":"{{\"x\":\"{carol}\"}}","text":"by {carol}","id":"subject:not-a-uuid"}}"#
        );

        // When it is revealed
        let revealed = reveal_json(&keys, json.as_bytes()).await.unwrap().unwrap();

        // Then whole strings are replaced (escaped where needed), the rest is byte for byte
        let expected = format!(
            r#"{{"sellerId":"carol", "bids":[{{"bidderId":"dan\"q"}},{{"bidderId":"carol"}}],"note":"{{\"x\":\"{carol}\"}}","text":"by {carol}","id":"subject:not-a-uuid"}}"#
        );
        assert_eq!(String::from_utf8(revealed).unwrap(), expected);
        // And a masked pseudonym is revealed masked
        let masked = format!(r#"["masked:{carol}","{carol}"]"#);
        let revealed = reveal_json(&keys, masked.as_bytes())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(String::from_utf8(revealed).unwrap(), r#"["c***l","carol"]"#);
        // And an answer without a pseudonym is left as it is
        assert!(
            reveal_json(&keys, br#"{"a":"carol"}"#)
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn given_an_export_then_each_line_with_pseudonyms_says_what_they_reveal_beside_it() {
        // Given two lines, one naming carol and a forgotten dan, one naming nobody
        let keys = InMemorySubjectKeys::default();
        let carol = keys.pseudonym_of(&user("carol")).await.unwrap();
        let dan = keys.pseudonym_of(&user("dan")).await.unwrap();
        Pseudonyms::forget(&keys, &user("dan")).await.unwrap();
        let lines = format!(
            "{{\"hash\":\"h1\",\"payload\":{{\"a\":\"{carol}\",\"b\":\"{dan}\"}}}}\n{{\"hash\":\"h2\"}}\n"
        );

        // When they are revealed
        let revealed = reveal_lines(&keys, &lines).await.unwrap();

        // Then the first line keeps its fields and says who carol is and that dan is erased
        let mut out = revealed.lines();
        let first: serde_json::Value = serde_json::from_str(out.next().unwrap()).unwrap();
        assert_eq!(first["payload"]["a"], carol.as_str());
        assert_eq!(first[REVEALED_FIELD][carol.as_str()], "carol");
        let dan_key = pseudonym_key(dan.as_str()).unwrap();
        assert_eq!(
            first[REVEALED_FIELD][dan.as_str()],
            erased(dan_key).as_str()
        );
        // And the second is as it was
        assert_eq!(out.next().unwrap(), "{\"hash\":\"h2\"}");
        assert!(revealed.ends_with('\n'));
    }
}
