use twilio_export::batch::schema::contract_json;
use twilio_export::domain::Resource;

/// `schemas/*.json` is the published contract; the code must write exactly that.
/// After a deliberate schema change, regenerate with:
/// `cargo run -- schema --resource calls > schemas/calls.json` (and usage-records).
#[test]
fn schema_files_equal_the_code() {
    for r in Resource::ALL {
        let path = format!(
            "{}/schemas/{}.json",
            env!("CARGO_MANIFEST_DIR"),
            r.table_name()
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let file: serde_json::Value = serde_json::from_str(&text).unwrap();
        let code = contract_json(r);
        let (fc, cc) = (&file["columns"], &code["columns"]);
        assert_eq!(
            fc.as_array().unwrap().len(),
            cc.as_array().unwrap().len(),
            "{path}: column count"
        );
        for (f, c) in fc.as_array().unwrap().iter().zip(cc.as_array().unwrap()) {
            assert_eq!(f, c, "{path}: column {}", c["name"]);
        }
        assert_eq!(file, code, "{path}");
    }
}

/// Every column of the Parquet files carries its documentation.
#[test]
fn arrow_schema_carries_the_docs() {
    for r in Resource::ALL {
        for f in twilio_export::batch::arrow_schema(r).fields() {
            assert!(
                f.metadata()
                    .get("description")
                    .is_some_and(|d| !d.is_empty()),
                "{}",
                f.name()
            );
        }
    }
}
