//! The emulator on `127.0.0.1:0` with the fake function, and invoking it.

use std::sync::Arc;
use std::time::Duration;

use lambda_emulator::Function;
use lambda_emulator::config::Config;
use lambda_emulator::invoke_api;
use serde_json::Value;

pub const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:greeter-lambda";

/// The settings of the fake function: this test binary, running only the
/// test that is the function.
pub fn config() -> Config {
    Config {
        function_name: "greeter-lambda".into(),
        bootstrap: std::env::current_exe().unwrap(),
        args: [
            "fake_function::process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
            "--quiet",
        ]
        .map(String::from)
        .to_vec(),
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        memory_mb: 128,
        timeout: Duration::from_secs(5),
        concurrency: 4,
        reserved_concurrency: None,
        function_env: vec![
            ("FAKE_FUNCTION".into(), "1".into()),
            ("NAME_URL".into(), "http://name:3000".into()),
        ],
    }
}

pub struct Emulator {
    pub url: String,
    pub function: Arc<Function>,
    client: reqwest::Client,
}

impl Emulator {
    pub async fn start(config: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let function = Function::new(config);
        tokio::spawn(service_core::server::run(
            listener,
            invoke_api::app(Arc::clone(&function)),
            std::future::pending(),
            Duration::from_secs(1),
        ));
        Self {
            url,
            function,
            client: reqwest::Client::new(),
        }
    }

    /// Invokes `function` with `command` for the fake function (a JSON
    /// string), with these headers.
    pub async fn invoke_as(&self, function: &str, command: &str, headers: &[(&str, &str)]) -> Invoked {
        self.post(function, &serde_json::to_string(command).unwrap(), headers)
            .await
    }

    /// POSTs `payload` as it is to the Invoke API for `function`.
    pub async fn post(&self, function: &str, payload: &str, headers: &[(&str, &str)]) -> Invoked {
        self.post_query(function, "", payload, headers).await
    }

    /// POSTs `payload` to the Invoke API for `function` with `query`
    /// (`Qualifier=...`, or empty).
    pub async fn post_query(
        &self,
        function: &str,
        query: &str,
        payload: &str,
        headers: &[(&str, &str)],
    ) -> Invoked {
        let mut request = self
            .client
            .post(format!(
                "{}/2015-03-31/functions/{function}/invocations?{query}",
                self.url
            ))
            .body(payload.to_owned());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        Invoked {
            request_id: header("x-amzn-requestid"),
            log_result: header("x-amz-log-result").map(|encoded| {
                use base64::Engine as _;
                let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap();
                String::from_utf8(bytes).unwrap()
            }),
            status: response.status().as_u16(),
            error_type: response
                .headers()
                .get("x-amzn-errortype")
                .map(|v| v.to_str().unwrap().to_owned()),
            function_error: response
                .headers()
                .get("x-amz-function-error")
                .map(|v| v.to_str().unwrap().to_owned()),
            body: response.text().await.unwrap(),
        }
    }

    /// A synchronous invocation asking for the log's tail, as
    /// `aws lambda invoke --log-type Tail` makes it.
    pub async fn invoke_tail(&self, command: &str) -> Invoked {
        self.invoke_as(ARN, command, &[("x-amz-log-type", "Tail")]).await
    }

    /// `GET /metrics`: the body, after checking its content type.
    pub async fn metrics(&self) -> String {
        let response = self
            .client
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        response.text().await.unwrap()
    }

    /// The value of one series of the function's, by its name (a
    /// histogram's `_count`, say); panics when it is missing.
    pub async fn metric(&self, name: &str) -> f64 {
        let text = self.metrics().await;
        let prefix = format!("{name}{{function_name=\"greeter-lambda\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
            .parse()
            .unwrap()
    }

    /// Waits until `name` reads `value`: for what happens in the background.
    pub async fn wait_for_metric(&self, name: &str, value: f64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while self.metric(name).await != value {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name} never read {value}: {}",
                self.metric(name).await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A synchronous invocation by ARN, as Envoy makes it.
    pub async fn invoke(&self, command: &str) -> Invoked {
        self.invoke_as(ARN, command, &[("x-amz-invocation-type", "RequestResponse")])
            .await
    }
}

#[derive(Debug)]
pub struct Invoked {
    pub status: u16,
    pub request_id: Option<String>,
    /// `X-Amz-Log-Result`, decoded.
    pub log_result: Option<String>,
    /// `X-Amzn-ErrorType`: an error of the Invoke API itself.
    pub error_type: Option<String>,
    pub function_error: Option<String>,
    pub body: String,
}

impl Invoked {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// The pid of the instance that answered.
    pub fn pid(&self) -> u64 {
        let json = self.json();
        json["pid"].as_u64().or(json["seen"]["pid"].as_u64()).unwrap()
    }
}
