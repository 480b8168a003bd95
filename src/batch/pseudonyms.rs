//! The one place where phone numbers and names become pseudonyms: the text columns that
//! [`super::Column::pseudonymized`], as a batch is finished under a key.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringBuilder};

use super::Column;
use crate::pseudonym::PseudonymKey;

/// The key and the positions of the columns it applies to.
pub(super) struct Pseudonyms {
    key: PseudonymKey,
    columns: Vec<usize>,
}

impl Pseudonyms {
    /// Under `key`, for the marked columns of `columns`.
    pub(super) fn new(key: PseudonymKey, columns: &[Column]) -> Self {
        let columns = columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.pseudonymized)
            .map(|(i, _)| i)
            .collect();
        Self { key, columns }
    }

    /// Replaces each marked column of a finished batch by its pseudonyms.
    pub(super) fn apply(&self, arrays: &mut [ArrayRef]) {
        for &i in &self.columns {
            arrays[i] = self.column(&arrays[i]);
        }
    }

    /// Each value's pseudonym; nulls and empty strings as they were.
    fn column(&self, array: &ArrayRef) -> ArrayRef {
        let text = array.as_string::<i32>();
        let mut out = StringBuilder::with_capacity(text.len(), text.len() * 64);
        let mut hex = [0u8; 64];
        for value in text.iter() {
            match value {
                Some(v) if !v.is_empty() => {
                    out.append_value(self.key.pseudonymize_into(v, &mut hex));
                }
                other => out.append_option(other),
            }
        }
        Arc::new(out.finish())
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{AsArray, RecordBatch};

    use crate::batch::schema::Kind;
    use crate::batch::{calls, usage_records, BatchBuilder};
    use crate::decode::calls::Call;
    use crate::decode::decode_page;
    use crate::domain::Resource;
    use crate::pseudonym::PseudonymKey;

    const PAGE: &str = r#"{"calls":[
      {"sid":"CA00000000000000000000000000000001","to":"+14155550100","from":"+14155550199",
       "to_formatted":"(415) 555-0100","from_formatted":"","forwarded_from":null,
       "caller_name":"Zo\u00eb","status":"completed"},
      {"sid":"CA00000000000000000000000000000002","to":"+14155550100"}],"next_page_uri":null}"#;

    fn batch(key: Option<&PseudonymKey>) -> RecordBatch {
        let page = decode_page::<Call>(PAGE.as_bytes()).unwrap();
        let mut b = BatchBuilder::pseudonymized(Resource::Calls, key);
        for c in &page.records {
            b.push(c);
        }
        b.finish()
    }

    fn text(b: &RecordBatch, column: &str) -> Vec<Option<String>> {
        b.column_by_name(column)
            .unwrap()
            .as_string::<i32>()
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect()
    }

    #[test]
    fn marked_columns_become_pseudonyms_and_the_rest_stays() {
        let key = PseudonymKey::new(b"a key of sixteen bytes or more").unwrap();
        let (clear, keyed) = (batch(None), batch(Some(&key)));
        for c in calls::COLUMNS {
            let (before, after) = (text_or_none(&clear, c), text_or_none(&keyed, c));
            if !c.pseudonymized {
                assert_eq!(before, after, "{}", c.name);
                continue;
            }
            let expected: Vec<Option<String>> = before
                .unwrap()
                .into_iter()
                .map(|v| v.map(|v| key.pseudonymize(&v)))
                .collect();
            assert_eq!(after.unwrap(), expected, "{}", c.name);
        }
        let to = text(&keyed, "to");
        assert_eq!(to[0], to[1], "the same number, the same pseudonym");
        assert_eq!(text(&keyed, "from_formatted")[0].as_deref(), Some(""));
        assert_eq!(text(&keyed, "forwarded_from"), vec![None, None]);
        assert_eq!(text(&keyed, "status")[0].as_deref(), Some("completed"));
    }

    fn text_or_none(b: &RecordBatch, c: &crate::batch::Column) -> Option<Vec<Option<String>>> {
        matches!(c.kind, Kind::Text).then(|| text(b, c.name))
    }

    #[test]
    fn the_lists_name_text_columns_of_their_resource() {
        for (list, columns) in [
            (calls::PSEUDONYMIZED, calls::COLUMNS),
            (usage_records::PSEUDONYMIZED, usage_records::COLUMNS),
        ] {
            let marked: Vec<&str> = columns
                .iter()
                .filter(|c| c.pseudonymized)
                .inspect(|c| assert_eq!(c.kind, Kind::Text, "{}", c.name))
                .map(|c| c.name)
                .collect();
            assert_eq!(marked, list);
        }
        assert_eq!(calls::PSEUDONYMIZED.len(), 6);
    }
}
