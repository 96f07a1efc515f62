//! DynamoDB's item size arithmetic, so that an oversized event is refused before any write.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::item::item_from_event;
use crate::error::StoreError;
use crate::stored::StoredEvent;

/// DynamoDB's limit for one item, attribute names included: 400 KB.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// The size DynamoDB accounts an item at: each attribute's name plus its value, with numbers at
/// one byte per two significant digits plus one, and 3 bytes of overhead per list or map.
/// (From the DynamoDB developer guide, "Item sizes and formats".)
pub fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

/// Refuses an event whose DynamoDB item would exceed [`MAX_ITEM_BYTES`], whichever backend is
/// in use, so that the in-memory twin refuses what DynamoDB would.
pub(crate) fn check_size(event: &StoredEvent) -> Result<(), StoreError> {
    let size = item_size(&item_from_event(event)?);
    if size > MAX_ITEM_BYTES {
        return Err(StoreError::ItemTooLarge {
            version: event.version(),
            size,
            limit: MAX_ITEM_BYTES,
        });
    }
    Ok(())
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(values) => values.iter().map(String::len).sum(),
        AttributeValue::Ns(values) => values.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(values) => values.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(values) => 3 + values.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(name, v)| 1 + name.len() + value_size(v))
                .sum::<usize>()
        }
        // A type added to DynamoDB after this code: count it as large as it can be, so the check
        // errs on refusing.
        _ => MAX_ITEM_BYTES,
    }
}

fn number_size(n: &str) -> usize {
    let digits = n.chars().filter(char::is_ascii_digit).collect::<String>();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.div_ceil(2) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_count_their_utf8_bytes_and_names_count_too() {
        let item = HashMap::from([("ab".to_owned(), AttributeValue::S("é".to_owned()))]);
        assert_eq!(item_size(&item), 2 + 2);
    }

    #[test]
    fn numbers_count_one_byte_per_two_significant_digits_plus_one() {
        let item = HashMap::from([("v".to_owned(), AttributeValue::N("12345".to_owned()))]);
        assert_eq!(item_size(&item), 1 + 4);
        let item = HashMap::from([("v".to_owned(), AttributeValue::N("1000".to_owned()))]);
        assert_eq!(item_size(&item), 1 + 2);
    }
}
