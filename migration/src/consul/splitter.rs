//! The greeter `service-splitter`: read (`GET
//! /v1/config/service-splitter/greeter`, 404 when there is none) and
//! written with check-and-set (`PUT /v1/config?cas=<ModifyIndex>`, answered
//! `true` or `false`), so a change someone else made meanwhile is refused,
//! never overwritten; and printed as HCL for `consul config write -`.

use std::fmt::Write as _;

use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Consul, ConsulError};
use crate::mesh::{LAMBDA_SERVICE, SPLIT_SERVICE};
use crate::share::{Share, WHOLE};

/// The path of the greeter splitter entry.
pub const SPLITTER_PATH: &str = "/v1/config/service-splitter/greeter";

/// The greeter splitter as Consul holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Splitter {
    /// The Lambda's share.
    pub lambda: Share,
    /// The entry's `ModifyIndex`: the `cas` of the next write.
    pub modify_index: u64,
    /// The entry as read, for the fields this tool does not change.
    pub entry: Value,
}

impl Consul {
    /// The greeter splitter, or `None` if there is none (all calls to the
    /// container greeter).
    pub async fn read_splitter(&self) -> Result<Option<Splitter>, ConsulError> {
        let request = format!("GET {SPLITTER_PATH}");
        let (status, body) = self.call(Method::GET, SPLITTER_PATH, None).await?;
        match status {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(None),
            other => return Err(self.refusal(other, &request, &body)),
        }
        let bad = |detail: String| Self::bad_answer(&request, detail);
        let entry: Value = serde_json::from_slice(&body).map_err(|e| bad(e.to_string()))?;
        let modify_index = entry
            .get("ModifyIndex")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("no ModifyIndex".to_owned()))?;
        let lambda = lambda_share(&entry).map_err(bad)?;
        Ok(Some(Splitter {
            lambda,
            modify_index,
            entry,
        }))
    }

    /// Writes the greeter splitter for a Lambda share, keeping the other
    /// fields of `current` (its `Meta`, say), only if the entry's
    /// `ModifyIndex` is still `cas` (0: only if there is none). `false`
    /// when Consul refused because the entry changed.
    pub async fn write_splitter(
        &self,
        current: Option<&Value>,
        lambda: Share,
        cas: u64,
    ) -> Result<bool, ConsulError> {
        let body = splitter_body(current, lambda);
        let path = format!("/v1/config?cas={cas}");
        let request = format!("PUT {path}");
        let (status, answer) = self
            .call(Method::PUT, &path, Some(body.to_string().into_bytes()))
            .await?;
        self.true_or_false(&request, status, &answer)
    }

    /// The write `write_splitter` would make, as text, for `--dry-run`.
    pub fn describe_write(&self, current: Option<&Value>, lambda: Share, cas: &str) -> String {
        format!(
            "PUT {}v1/config?cas={cas} {}",
            self.settings.address,
            splitter_body(current, lambda)
        )
    }
}

/// The body of `PUT /v1/config` for a Lambda share: `Kind`, `Name`,
/// `Splits` (the container greeter first, as `split splitter` prints), and
/// whatever else `current` holds (`Meta`, a namespace) except the indexes
/// Consul keeps itself.
pub fn splitter_body(current: Option<&Value>, lambda: Share) -> Value {
    let mut body = match current {
        Some(Value::Object(entry)) => entry.clone(),
        _ => serde_json::Map::new(),
    };
    for own in ["CreateIndex", "ModifyIndex", "Hash"] {
        body.remove(own);
    }
    body.insert("Kind".to_owned(), json!("service-splitter"));
    body.insert("Name".to_owned(), json!(SPLIT_SERVICE));
    body.insert(
        "Splits".to_owned(),
        json!([
            { "Weight": weight(lambda.rest()), "Service": SPLIT_SERVICE },
            { "Weight": weight(lambda), "Service": LAMBDA_SERVICE },
        ]),
    );
    Value::Object(body)
}

/// A share as Consul's float weight: 25, 12.5, 33.33.
fn weight(share: Share) -> Value {
    let hundredths = share.hundredths();
    if hundredths % 100 == 0 {
        json!(hundredths / 100)
    } else {
        json!(f64::from(hundredths) / 100.0)
    }
}

/// The Lambda's share in a splitter entry, if it splits greeter between
/// the container and the Lambda only.
pub fn lambda_share(entry: &Value) -> Result<Share, String> {
    let splits = entry.get("Splits").and_then(Value::as_array).ok_or("no Splits")?;
    let (mut lambda, mut total) = (0u32, 0u32);
    for split in splits {
        let weight = split.get("Weight").and_then(Value::as_f64).unwrap_or(0.0);
        // Consul scales weights the same way: to hundredths, rounded.
        let hundredths = (weight * 100.0).round();
        if !(0.0..=f64::from(WHOLE)).contains(&hundredths) {
            return Err(format!("a split weighs {weight}"));
        }
        let hundredths = hundredths as u32;
        let service = split.get("Service").and_then(Value::as_str).unwrap_or("");
        let subset = split.get("ServiceSubset").and_then(Value::as_str).unwrap_or("");
        match service {
            _ if !subset.is_empty() && hundredths > 0 => {
                return Err(format!(
                    "a split goes to the subset {subset:?}; split migrate moves whole services only"
                ));
            }
            "" | SPLIT_SERVICE => {}
            LAMBDA_SERVICE => lambda += hundredths,
            other if hundredths > 0 => {
                return Err(format!(
                    "a split goes to {other:?}; split migrate moves calls between {SPLIT_SERVICE} and {LAMBDA_SERVICE} only"
                ));
            }
            _ => {}
        }
        total += hundredths;
    }
    if total != WHOLE {
        return Err(format!(
            "the weights sum to {}, not 100",
            f64::from(total) / 100.0
        ));
    }
    Share::from_hundredths(lambda).ok_or_else(|| "the Lambda's weight is over 100".to_owned())
}
/// The `service-splitter` for a Lambda share as HCL, ready for `consul
/// config write -`. Consul keeps 0.01 precision, as [`Share`] does.
pub fn hcl(lambda: Share) -> String {
    let greeter = lambda.rest();
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "# Calls to {SPLIT_SERVICE}: {greeter}% to the container {SPLIT_SERVICE}, {lambda}% to {LAMBDA_SERVICE}."
    );
    let _ = writeln!(out, "# Printed by `split splitter --lambda {lambda}`.");
    let _ = writeln!(out, "Kind = \"service-splitter\"");
    let _ = writeln!(out, "Name = \"{SPLIT_SERVICE}\"");
    let _ = writeln!(out, "Splits = [");
    for (weight, service) in [(greeter, SPLIT_SERVICE), (lambda, LAMBDA_SERVICE)] {
        let _ = writeln!(
            out,
            "  {{\n    Weight  = {weight}\n    Service = \"{service}\"\n  }},"
        );
    }
    out.push_str("]\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_holds_both_splits_and_keeps_other_fields() {
        let current = json!({
            "Kind": "service-splitter", "Name": "greeter", "Meta": { "owner": "team" },
            "Splits": [{ "Weight": 100, "Service": "greeter" }],
            "CreateIndex": 10, "ModifyIndex": 12
        });
        let body = splitter_body(Some(&current), "12.5".parse().unwrap());
        assert_eq!(
            body,
            json!({
                "Kind": "service-splitter", "Name": "greeter", "Meta": { "owner": "team" },
                "Splits": [
                    { "Weight": 87.5, "Service": "greeter" },
                    { "Weight": 12.5, "Service": "greeter-lambda" }
                ]
            })
        );
        assert_eq!(lambda_share(&body), Ok("12.5".parse().unwrap()));
    }

    #[test]
    fn the_share_is_read_from_consuls_float_weights() {
        let entry = |splits: Value| json!({ "Splits": splits });
        assert_eq!(
            lambda_share(&entry(
                json!([{ "Weight": 66.67, "Service": "greeter" }, { "Weight": 33.33, "Service": "greeter-lambda" }])
            )),
            Ok("33.33".parse().unwrap())
        );
        // A split without Service goes to the splitter's own service.
        assert_eq!(lambda_share(&entry(json!([{ "Weight": 100 }]))), Ok(Share::ZERO));
        let err = lambda_share(&entry(
            json!([{ "Weight": 50, "Service": "greeter" }, { "Weight": 50, "Service": "greeter-v2" }]),
        ))
        .unwrap_err();
        assert!(err.contains("\"greeter-v2\""), "{err}");
        assert!(lambda_share(&entry(json!([{ "Weight": 60, "Service": "greeter" }]))).is_err());
    }
}
