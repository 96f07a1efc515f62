//! Stripe's form encoding: `application/x-www-form-urlencoded` pairs, nested objects spelled
//! `outer[inner]=value` (metadata: `metadata[order]=42`), array items `list[0]=value`.

/// The parameters of one request, in the order they were added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn add(mut self, name: &str, value: impl ToString) -> Self {
        self.0.push((name.to_owned(), value.to_string()));
        self
    }

    pub(crate) fn add_opt(self, name: &str, value: Option<&str>) -> Self {
        match value {
            Some(value) => self.add(name, value),
            None => self,
        }
    }

    /// `metadata[key]=value` for each pair.
    pub(crate) fn metadata<'a>(
        mut self,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        for (key, value) in pairs {
            self.0.push((format!("metadata[{key}]"), value.to_owned()));
        }
        self
    }

    pub(crate) fn encode(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.0.iter())
            .finish()
    }
}

/// One path segment (an id from the caller), percent-encoded so that it cannot reach another
/// path: `cus_1/../x` becomes one (unknown) id.
pub(crate) fn segment(id: &str) -> String {
    form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_nested_metadata_when_encoded_then_brackets_and_values_are_escaped() {
        let params = Params::new()
            .add("amount", 1500)
            .add("currency", "eur")
            .metadata([("auction_id", "a-1"), ("note", "A & B=c")]);

        assert_eq!(
            params.encode(),
            "amount=1500&currency=eur&metadata%5Bauction_id%5D=a-1&metadata%5Bnote%5D=A+%26+B%3Dc"
        );
    }

    #[test]
    fn given_an_id_with_a_slash_then_it_stays_one_segment() {
        assert_eq!(segment("cus_1/../x?y"), "cus_1%2F..%2Fx%3Fy");
        assert_eq!(segment("acct_1AbC"), "acct_1AbC");
    }
}
