//! The local split: the weights of Envoy's `weighted_clusters` route to
//! greeter and greeter-lambda, changed at run time through the admin
//! endpoint `/runtime_modify`; and the faults its fault filter injects
//! into the calls routed to greeter-lambda, for a demonstration of a
//! migration that rolls back (`split fault`). The fault filter sits in the
//! listener playing Consul's terminating gateway, past the splitter's
//! greeter-lambda cluster, so that cluster's metrics see an injected abort
//! as a 503 and an injected delay as a slow answer, as they would see a
//! failing Lambda on AWS.
//!
//! `envoy/envoy.yaml` names the route's `runtime_key_prefix`
//! ([`RUNTIME_KEY_PREFIX`]); Envoy then reads each cluster's weight from
//! the runtime key `<prefix>.<cluster>` on every request, so a change takes
//! effect for the next request while requests in flight finish where they
//! are. Weights are hundredths of a percent, Consul's precision.

use std::time::Duration;

use reqwest::Method;
use reqwest::Url;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use service_core::upstream::{Client, Upstream, UpstreamError};

use crate::mesh::{LAMBDA_SERVICE, SPLIT_SERVICE};
use crate::share::Share;

/// The `runtime_key_prefix` of the greeter route in `envoy/envoy.yaml`.
pub const RUNTIME_KEY_PREFIX: &str = "greeter.split";

/// The two runtime keys and their weights for a Lambda share, container
/// greeter first.
pub fn runtime_weights(lambda: Share) -> [(String, u32); 2] {
    [
        (
            format!("{RUNTIME_KEY_PREFIX}.{SPLIT_SERVICE}"),
            lambda.rest().hundredths(),
        ),
        (
            format!("{RUNTIME_KEY_PREFIX}.{LAMBDA_SERVICE}"),
            lambda.hundredths(),
        ),
    ]
}

/// Why the weights could not be set.
#[derive(Debug, thiserror::Error)]
pub enum SetError {
    /// The admin endpoint is not a base URL.
    #[error("{0:?} is not an http URL of Envoy's admin endpoint")]
    BadUrl(String),
    /// Envoy could not be reached, or answered an error.
    #[error("{source}, at {admin} (is the stack up?)")]
    Unreachable {
        /// The admin endpoint tried.
        admin: String,
        /// What went wrong.
        source: UpstreamError,
    },
    /// Envoy refused the change.
    #[error("Envoy refused the change: {0}")]
    Refused(String),
    /// Envoy took the change but reads other values back.
    #[error("Envoy reads {key} = {found:?} after setting it to {wanted}")]
    NotApplied {
        /// The runtime key.
        key: String,
        /// What was set.
        wanted: String,
        /// What Envoy answers now.
        found: Option<String>,
    },
    /// `/runtime` answered something that is not its JSON.
    #[error("Envoy's /runtime answer is not what it should be: {0}")]
    BadRuntime(String),
    /// No HTTP client.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// The Lambda's share before and after a change. `None` before: the
/// runtime had no weights, so the route used those of `envoy.yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// The share the runtime held before.
    pub before: Option<Share>,
    /// The share now in effect.
    pub after: Share,
}

/// Sets the Lambda's share of the calls to greeter on the Envoy whose
/// admin endpoint is `admin`: both weights in one runtime update, so no
/// request sees one changed without the other; then reads them back.
///
/// With a `wait`, first waits up to that long for Envoy to be up and
/// initialised (`/ready` answers `LIVE`), as a stack that is starting needs.
pub async fn set(admin: &Url, lambda: Share, timeout: Duration, wait: Duration) -> Result<Applied, SetError> {
    let admin = Admin::new(admin, timeout)?;
    if !wait.is_zero() {
        admin.wait_until_live(wait).await?;
    }
    let before = admin.runtime().await?.lambda_share();
    admin
        .modify(&runtime_weights(lambda).map(|(k, w)| (k, w.to_string())))
        .await?;
    Ok(Applied {
        before,
        after: lambda,
    })
}

/// The Lambda's share the Envoy at `admin` holds; `None` when its runtime
/// has no weights, so the route uses those of `envoy.yaml`.
pub async fn get(admin: &Url, timeout: Duration) -> Result<Option<Share>, SetError> {
    Ok(Admin::new(admin, timeout)?.runtime().await?.lambda_share())
}

/// Faults Envoy injects into the calls routed to greeter-lambda: the fault
/// filter of `envoy/envoy.yaml`'s terminating gateway, which only the
/// Lambda's calls reach, reads these from the runtime per request. All zero
/// is no fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// Percent of the Lambda's calls answered by Envoy itself with `status`.
    pub abort_percent: u8,
    /// The status of an aborted call.
    pub abort_status: u16,
    /// Percent of the Lambda's calls held back for `delay_ms` first.
    pub delay_percent: u8,
    /// How long a delayed call is held, in milliseconds.
    pub delay_ms: u64,
}

/// The runtime keys the fault filter of `envoy/envoy.yaml` reads
/// (`abort_percent_runtime` and its siblings).
pub const FAULT_KEYS: [&str; 4] = [
    "greeter.fault.abort_percent",
    "greeter.fault.abort_http_status",
    "greeter.fault.delay_percent",
    "greeter.fault.delay_ms",
];

impl Fault {
    /// No fault.
    pub const NONE: Self = Self {
        abort_percent: 0,
        abort_status: 503,
        delay_percent: 0,
        delay_ms: 0,
    };

    /// The runtime keys and values, in [`FAULT_KEYS`] order.
    pub fn runtime(&self) -> [(String, String); 4] {
        let values = [
            self.abort_percent.to_string(),
            self.abort_status.to_string(),
            self.delay_percent.to_string(),
            self.delay_ms.to_string(),
        ];
        let mut pairs = FAULT_KEYS.map(|k| (k.to_owned(), String::new()));
        for (pair, value) in pairs.iter_mut().zip(values) {
            pair.1 = value;
        }
        pairs
    }
}

/// Sets the faults injected into the Lambda's calls, all keys in one
/// runtime update, and reads them back.
pub async fn set_fault(admin: &Url, fault: Fault, timeout: Duration) -> Result<(), SetError> {
    Admin::new(admin, timeout)?
        .modify(&fault.runtime())
        .await
        .map(drop)
}

/// Envoy's admin endpoint and the client that reaches it.
struct Admin {
    base: Url,
    client: Client,
}

impl Admin {
    fn new(admin: &Url, timeout: Duration) -> Result<Self, SetError> {
        endpoint(admin, "runtime")?;
        Ok(Self {
            base: admin.clone(),
            client: Client::new(timeout)?,
        })
    }

    fn upstream(&self, path: &str) -> Result<Upstream, SetError> {
        Ok(Upstream {
            name: "envoy admin",
            url: endpoint(&self.base, path)?,
        })
    }

    fn unreachable(&self, source: UpstreamError) -> SetError {
        SetError::Unreachable {
            admin: self.base.to_string(),
            source,
        }
    }

    async fn wait_until_live(&self, wait: Duration) -> Result<(), SetError> {
        let ready = self.upstream("ready")?;
        wait_until_live(&self.client, &ready, wait)
            .await
            .map_err(|e| self.unreachable(e))
    }

    async fn runtime(&self) -> Result<Runtime, SetError> {
        let runtime = self.upstream("runtime")?;
        let body = self
            .client
            .get_text(&runtime, HeaderMap::new())
            .await
            .map_err(|e| self.unreachable(e))?;
        parse_runtime(&body)
    }

    /// Sets every pair in one POST to `/runtime_modify`, then checks that
    /// Envoy reads each back.
    async fn modify(&self, pairs: &[(String, String)]) -> Result<Runtime, SetError> {
        let modify = Upstream {
            name: "envoy admin",
            url: modify_url(&self.base, pairs)?,
        };
        // Envoy takes changes by POST only.
        match self
            .client
            .send_text(Method::POST, &modify, HeaderMap::new())
            .await
        {
            Ok(_) => {}
            Err(UpstreamError::Status { status, detail, .. }) => {
                return Err(SetError::Refused(format!("{status}: {detail}")));
            }
            Err(e) => return Err(self.unreachable(e)),
        }
        let now = self.runtime().await?;
        for (key, wanted) in pairs {
            let found = now.entries.get(key).and_then(|e| e.final_value.clone());
            if found.as_deref() != Some(wanted.as_str()) {
                return Err(SetError::NotApplied {
                    key: key.clone(),
                    wanted: wanted.clone(),
                    found,
                });
            }
        }
        Ok(now)
    }
}

/// Polls `/ready` until it answers, or `wait` has passed; then the last
/// failure is the error.
async fn wait_until_live(client: &Client, ready: &Upstream, wait: Duration) -> Result<(), UpstreamError> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match client.get_text(ready, HeaderMap::new()).await {
            Ok(_) => return Ok(()),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Where Envoy's admin takes the runtime `pairs`, by POST.
pub fn modify_url(admin: &Url, pairs: &[(String, String)]) -> Result<Url, SetError> {
    let mut url = endpoint(admin, "runtime_modify")?;
    url.query_pairs_mut().extend_pairs(pairs);
    Ok(url)
}

fn endpoint(admin: &Url, path: &str) -> Result<Url, SetError> {
    let bad = || SetError::BadUrl(admin.to_string());
    if !matches!(admin.scheme(), "http" | "https") || admin.cannot_be_a_base() {
        return Err(bad());
    }
    let mut url = admin.clone();
    url.set_query(None);
    url.path_segments_mut()
        .map_err(|()| bad())?
        .pop_if_empty()
        .push(path);
    Ok(url)
}

/// The part of Envoy's `/runtime` answer read here.
#[derive(Debug, Deserialize)]
struct Runtime {
    entries: std::collections::BTreeMap<String, RuntimeEntry>,
}

#[derive(Debug, Deserialize)]
struct RuntimeEntry {
    final_value: Option<String>,
}

impl Runtime {
    /// The Lambda's share if the runtime holds both weights and they make
    /// a share.
    fn lambda_share(&self) -> Option<Share> {
        let [greeter, lambda] = runtime_weights(Share::ZERO).map(|(key, _)| {
            self.entries
                .get(&key)
                .and_then(|e| e.final_value.as_deref()?.parse::<u32>().ok())
        });
        let (greeter, lambda) = (greeter?, lambda?);
        (greeter.checked_add(lambda)? == crate::share::WHOLE)
            .then(|| Share::from_hundredths(lambda))
            .flatten()
    }
}

fn parse_runtime(body: &str) -> Result<Runtime, SetError> {
    serde_json::from_str(body).map_err(|e| SetError::BadRuntime(e.to_string()))
}

#[cfg(test)]
pub(crate) mod admin_double;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weights_are_hundredths_of_a_percent_summing_to_100() {
        assert_eq!(
            runtime_weights("25".parse().unwrap()),
            [
                ("greeter.split.greeter".to_owned(), 7500),
                ("greeter.split.greeter-lambda".to_owned(), 2500)
            ]
        );
        assert_eq!(runtime_weights(Share::ALL)[0].1, 0);
    }

    #[test]
    fn admin_endpoints_are_built_from_the_base_url() {
        let admin: Url = "http://127.0.0.1:9901".parse().unwrap();
        assert_eq!(
            endpoint(&admin, "runtime").unwrap().as_str(),
            "http://127.0.0.1:9901/runtime"
        );
        let prefixed: Url = "http://localhost:9901/envoy/?x=1".parse().unwrap();
        assert_eq!(
            endpoint(&prefixed, "runtime_modify").unwrap().as_str(),
            "http://localhost:9901/envoy/runtime_modify"
        );
        let mailto: Url = "mailto:envoy@example.com".parse().unwrap();
        assert!(matches!(endpoint(&mailto, "runtime"), Err(SetError::BadUrl(_))));
    }

    #[test]
    fn the_runtime_answer_is_read_for_final_values() {
        let body = r#"{"layers":["static","admin"],"entries":{
            "greeter.split.greeter":{"final_value":"7500","layer_values":["5000","7500"]},
            "greeter.split.greeter-lambda":{"layer_values":["",""]}}}"#;
        let runtime = parse_runtime(body).unwrap();
        assert_eq!(
            runtime.entries["greeter.split.greeter"].final_value.as_deref(),
            Some("7500")
        );
        assert_eq!(runtime.entries["greeter.split.greeter-lambda"].final_value, None);
        assert_eq!(runtime.lambda_share(), None);
        assert!(matches!(parse_runtime("OK"), Err(SetError::BadRuntime(_))));
    }

    #[test]
    fn the_share_is_read_back_only_from_weights_that_make_one() {
        let runtime = |g: &str, l: &str| {
            parse_runtime(&format!(
                r#"{{"entries":{{"greeter.split.greeter":{{"final_value":"{g}"}},"greeter.split.greeter-lambda":{{"final_value":"{l}"}}}}}}"#
            ))
            .unwrap()
            .lambda_share()
        };
        assert_eq!(runtime("7500", "2500"), Some("25".parse().unwrap()));
        assert_eq!(runtime("0", "10000"), Some(Share::ALL));
        assert_eq!(runtime("5000", "2500"), None);
        assert_eq!(runtime("x", "2500"), None);
    }

    /// A stand-in for Envoy's admin whose `/ready` answers after
    /// `ready_after` requests to it.
    async fn fake_admin(ready_after: usize) -> Url {
        admin_double::Admin::ready_after(ready_after).serve().await
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[tokio::test]
    async fn set_writes_both_weights_and_reports_the_change() {
        let admin = fake_admin(0).await;
        let first = set(&admin, "25".parse().unwrap(), SECOND, Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(first.before, None, "nothing in the runtime yet");
        assert_eq!(first.after, "25".parse().unwrap());
        let second = set(&admin, Share::ALL, SECOND, Duration::ZERO).await.unwrap();
        assert_eq!(second.before, Some("25".parse().unwrap()));
    }

    #[tokio::test]
    async fn set_waits_for_envoy_to_be_live_when_asked() {
        let admin = fake_admin(3).await;
        set(&admin, Share::ZERO, SECOND, Duration::from_secs(5))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn set_gives_up_on_an_envoy_that_does_not_come_up() {
        let admin = fake_admin(usize::MAX).await;
        let err = set(&admin, Share::ZERO, SECOND, Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("503 Service Unavailable"), "{err}");
    }

    #[tokio::test]
    async fn set_names_an_unreachable_admin() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin: Url = format!("http://{}", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        drop(listener);
        let err = set(&admin, Share::ZERO, SECOND, Duration::ZERO)
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("envoy admin upstream unreachable: connection refused, at {admin} (is the stack up?)")
        );
    }

    /// `envoy/envoy.yaml`'s listeners: ingress's sidecar, then the
    /// terminating gateway, each as its text.
    fn envoy_listeners() -> (&'static str, &'static str) {
        let config = include_str!("../../envoy/envoy.yaml");
        let listeners = config.find("\n  listeners:\n").expect("no listeners");
        let gateway = config
            .find("\n    - name: terminating-gateway\n")
            .expect("no terminating-gateway listener");
        let clusters = config.find("\n  clusters:\n").expect("no clusters");
        assert!(listeners < gateway && gateway < clusters);
        (&config[listeners..gateway], &config[gateway..clusters])
    }

    #[test]
    fn the_envoy_config_faults_only_the_lambdas_calls_by_these_runtime_keys() {
        let (sidecar, gateway) = envoy_listeners();
        // Past the sidecar, so its greeter-lambda cluster gets what the fault
        // makes of the call: the sidecar has the router alone.
        assert!(
            !sidecar.contains("envoy.filters.http.fault"),
            "a fault filter in the sidecar"
        );
        assert_eq!(sidecar.matches("\n                  - name: ").count(), 1);
        assert!(sidecar.contains("\n                  - name: envoy.filters.http.router\n"));
        let fault = gateway
            .find("- name: envoy.filters.http.fault")
            .expect("no fault filter in the terminating gateway");
        // The filters of http_filters, not the per-route aws_lambda config.
        let others = [
            "- name: envoy.filters.http.aws_lambda",
            "- name: envoy.filters.http.router",
        ];
        assert!(
            others
                .iter()
                .all(|f| gateway.find(f).is_some_and(|at| at > fault)),
            "the fault filter must come first"
        );
        let filter = &gateway[fault..gateway.find("- name: envoy.filters.http.aws_lambda").unwrap()];
        // Every call to the gateway is the Lambda's.
        assert!(!filter.contains("upstream_cluster"));
        let fields = [
            "abort_percent_runtime",
            "abort_http_status_runtime",
            "delay_percent_runtime",
            "delay_duration_runtime",
        ];
        for (field, key) in fields.iter().zip(FAULT_KEYS) {
            assert!(filter.contains(&format!("{field}: {key}\n")), "{field}: {key}");
        }
        // No fault unless asked.
        assert_eq!(
            filter
                .matches("percentage: { numerator: 0, denominator: HUNDRED }")
                .count(),
            2
        );
        assert_eq!(
            Fault::NONE.runtime()[0],
            (FAULT_KEYS[0].to_owned(), "0".to_owned())
        );
    }

    #[test]
    fn the_envoy_config_routes_by_these_runtime_keys() {
        let (config, _) = envoy_listeners();
        assert!(config.contains(&format!("runtime_key_prefix: {RUNTIME_KEY_PREFIX}\n")));
        for (key, weight) in runtime_weights("50".parse().unwrap()) {
            let cluster = key.trim_start_matches(&format!("{RUNTIME_KEY_PREFIX}."));
            let routed = format!("- name: {cluster}\n{}weight: {weight}\n", " ".repeat(34));
            assert!(
                config.contains(&routed),
                "no route to {cluster} with weight {weight}"
            );
        }
    }
}
