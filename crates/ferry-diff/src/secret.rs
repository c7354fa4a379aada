//! Masking of Secret values, as Argo CD's `HideSecretData`: every value under `data` (and
//! `stringData`, should one reach this far) becomes a run of `+`. Per key, equal values get the
//! same mask and different values different ones (`++++++++`, then `++++++++++++`, then
//! `++++++++++++++++`, ...), so a diff still shows which keys changed but never what they hold.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// The fields of a Secret whose values are masked.
pub const SECRET_FIELDS: [&str; 2] = ["data", "stringData"];

const FIRST_MASK: &str = "++++++++";
const MASK_STEP: &str = "++++";

/// Masks the Secret values of `predicted` and `live` in place. Call it only when one of them
/// is a Secret. A `data`/`stringData` that is not a map is masked whole.
pub fn mask(predicted: &mut Value, live: Option<&mut Value>) {
    let mut sides: Vec<&mut Value> = vec![predicted];
    sides.extend(live);
    for field in SECRET_FIELDS {
        mask_field(&mut sides, field);
    }
}

fn mask_field(sides: &mut [&mut Value], field: &str) {
    let mut keys = BTreeSet::new();
    for side in sides.iter_mut() {
        let Some(obj) = side.as_object_mut() else {
            continue;
        };
        match obj.get_mut(field) {
            None | Some(Value::Null) => {}
            Some(Value::Object(data)) => keys.extend(data.keys().cloned()),
            // Not a map: nothing to compare key by key, and nothing may leak.
            Some(other) => *other = Value::String(FIRST_MASK.into()),
        }
    }
    for key in keys {
        let mut masks: BTreeMap<String, String> = BTreeMap::new();
        let mut next = FIRST_MASK.to_string();
        for side in sides.iter_mut() {
            let Some(value) = side
                .get_mut(field)
                .and_then(Value::as_object_mut)
                .and_then(|data: &mut Map<String, Value>| data.get_mut(&key))
            else {
                continue;
            };
            let plain = match &*value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let mask = masks.entry(plain).or_insert_with(|| {
                let mask = next.clone();
                next.push_str(MASK_STEP);
                mask
            });
            *value = Value::String(mask.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_values_share_a_mask_and_different_ones_do_not() {
        let mut predicted = json!({"data": {"same": "YQ==", "changed": "Yg==", "new": "Yw=="}});
        let mut live = json!({"data": {"same": "YQ==", "changed": "ZA==", "old": "ZQ=="}});
        mask(&mut predicted, Some(&mut live));
        assert_eq!(
            predicted,
            json!({"data": {"same": "++++++++", "changed": "++++++++", "new": "++++++++"}})
        );
        assert_eq!(
            live,
            json!({"data": {"same": "++++++++", "changed": "++++++++++++", "old": "++++++++"}})
        );
    }

    #[test]
    fn a_data_field_that_is_not_a_map_is_masked_whole() {
        let mut predicted = json!({"data": "c2VjcmV0"});
        mask(&mut predicted, None);
        assert_eq!(predicted, json!({"data": "++++++++"}));
    }
}
