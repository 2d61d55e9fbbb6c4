# Applied against moto on loopback by scripts/test-terraform, then destroyed.

run "vpc" {
  module {
    source = "../../tests/fixtures/vpc"
  }
}

run "setup" {
  module {
    source = "./tests/setup"
  }

  variables {
    vpc_id = run.vpc.vpc_id
  }
}

run "cluster" {
  module {
    source = "../cluster"
  }

  variables {
    # Not the cluster module's own test's name: the tests run side by side.
    name = "greeter-test-prom"
  }
}

run "alb" {
  module {
    source = "../ingress-alb"
  }

  variables {
    name                     = "greeter-test-ingress"
    vpc_id                   = run.vpc.vpc_id
    subnet_ids               = run.vpc.subnet_ids
    ingress_cidrs            = ["203.0.113.7/32"]
    target_security_group_id = run.setup.mesh_security_group_id
  }
}

variables {
  name                      = "greeter-test"
  consul_server             = "greeter-test-consul.dc1"
  consul_datacenter         = "dc1"
  envoy_services            = ["greeter-sidecar-proxy", "terminating-gateway", "greeter-test-mesh-gateway"]
  services                  = ["ingress", "greeter", "greeting", "name"]
  dns_sd_jobs               = { migration-controller = { names = ["migration-controller.prom-test.internal"], port = 9470 } }
  ingress_cidrs             = ["203.0.113.7/32"]
  consul_ca_cert_secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:placeholder"
}

run "runs_beside_the_mesh_and_answers_ingress_cidrs_only" {
  command = apply

  variables {
    vpc_id                           = run.vpc.vpc_id
    subnet_ids                       = run.vpc.subnet_ids
    cluster_arn                      = run.cluster.cluster_arn
    log_group_name                   = run.cluster.log_group_name
    consul_server_security_group_ids = [run.setup.consul_security_group_id]
    consul_ca_cert_secret_arn        = run.setup.ca_secret_arn
    target_security_group_id         = run.setup.mesh_security_group_id
    load_balancer_arn                = run.alb.arn
    load_balancer_dns_name           = run.alb.dns_name
    load_balancer_security_group_id  = run.alb.security_group_id
    service_discovery_namespace      = run.setup.namespace
  }

  assert {
    condition     = output.admitted.load_balancer == toset(["tcp:9090-9090<203.0.113.7/32"])
    error_message = "the ALB must admit exactly ingress_cidrs on 9090; got ${jsonencode(output.admitted)}"
  }

  assert {
    condition     = output.admitted.prometheus == "tcp:9090-9090<${run.alb.security_group_id}"
    error_message = "Prometheus must admit its load balancer alone; got ${output.admitted.prometheus}"
  }

  assert {
    # Not the services' serving ports (3000, 8080): those answer the payload only.
    condition     = output.scrapes == toset([9102, 9464])
    error_message = "the mesh tasks must admit Prometheus on Envoy's 9102 and the services' metrics port 9464 only; got ${jsonencode(output.scrapes)}"
  }

  assert {
    condition     = output.jobs == ["prometheus", "envoy", "envoy-mesh", "greeter", "greeting", "ingress", "name", "migration-controller"]
    error_message = "jobs prometheus, envoy, envoy-mesh, one per service as in the compose stack, and the migration controller expected; got ${jsonencode(output.jobs)}"
  }

  assert {
    # Without a datacenter Prometheus asks /v1/agent/self (agent:read), which the anonymous token lacks.
    condition = alltrue(flatten([
      for j in yamldecode(output.config).scrape_configs : [for sd in lookup(j, "consul_sd_configs", []) : sd.datacenter == "dc1"]
    ]))
    error_message = "every consul_sd_config must name the datacenter; got ${output.config}"
  }

  assert {
    condition = jsonencode(one([for j in yamldecode(output.config).scrape_configs : j.dns_sd_configs if j.job_name == "migration-controller"])) == jsonencode([{
      names = ["migration-controller.prom-test.internal"], port = 9470, refresh_interval = "10s", type = "A"
    }])
    error_message = "the migration controller must be found by its DNS name and scraped on 9470; got ${output.config}"
  }

  assert {
    condition     = output.url_in_vpc == "http://prometheus.prom-test.internal:9090" && output.consul_egress.security_groups == toset([run.setup.consul_security_group_id])
    error_message = "tasks in the VPC reach Prometheus by its Cloud Map name, and Prometheus reaches Consul by its group; got ${output.url_in_vpc}, ${jsonencode(output.consul_egress)}"
  }

  assert {
    # Terraform evaluates both sides of ||: lookup, not j.consul_sd_configs.
    condition = length(flatten([
      for j in yamldecode(output.config).scrape_configs : [
        for sd in lookup(j, "consul_sd_configs", []) : sd
        if sd.server == "greeter-test-consul.dc1:8501" && sd.scheme == "https" && sd.tls_config.ca_file == "/prometheus/consul-ca.pem"
      ]
    ])) == 6
    error_message = "every job but prometheus's own must find its targets in Consul's catalog over HTTPS with the CA; got ${output.config}"
  }

  assert {
    condition = one([for j in yamldecode(output.config).scrape_configs : j.relabel_configs[0].replacement if j.job_name == "envoy"]) == "$1:9102" && one([
      for j in yamldecode(output.config).scrape_configs : j.relabel_configs[0].replacement if j.job_name == "ingress"
    ]) == "$1:9464"
    error_message = "Envoys must be scraped on 9102 and ingress on its metrics port 9464; got ${output.config}"
  }

  assert {
    condition = jsonencode([for j in yamldecode(output.config).scrape_configs : j.consul_sd_configs[0].services if j.job_name == "envoy"]) == jsonencode([["ingress-sidecar-proxy"]]) && one([
      for j in yamldecode(output.config).scrape_configs : j.metric_relabel_configs[0].target_label if j.job_name == "envoy-mesh"
    ]) == "destination_service"
    error_message = "the job envoy must be ingress's sidecar alone, and the other Envoys' destination label renamed; got ${output.config}"
  }

  assert {
    condition     = output.listener.port == 9090 && output.listener.protocol == "HTTP" && output.url == "http://${run.alb.dns_name}:9090"
    error_message = "an HTTP listener on 9090 expected; got ${jsonencode(output.listener)}, ${output.url}"
  }
}

run "reaches_consul_beyond_the_vpc_by_its_blocks" {
  command = apply
  # A second Prometheus beside the first (its target group cannot be
  # replaced while the first's listener forwards to it).
  state_key = "beyond"

  variables {
    name                            = "greeter-test-ext"
    vpc_id                          = run.vpc.vpc_id
    subnet_ids                      = run.vpc.subnet_ids
    cluster_arn                     = run.cluster.cluster_arn
    log_group_name                  = run.cluster.log_group_name
    consul_server                   = "consul.internal.example.com"
    consul_https_port               = 443
    consul_datacenter               = "dc2"
    consul_tls_server_name          = "server.dc2.consul"
    consul_cidrs                    = ["10.20.0.0/24"]
    consul_ca_cert_secret_arn       = run.setup.ca_secret_arn
    target_security_group_id        = run.setup.mesh_security_group_id
    load_balancer_arn               = run.alb.arn
    load_balancer_dns_name          = run.alb.dns_name
    load_balancer_security_group_id = run.alb.security_group_id
    listener_port                   = 9091
    dns_sd_jobs                     = {}
  }

  assert {
    condition     = output.consul_egress.cidrs == toset(["10.20.0.0/24"]) && length(output.consul_egress.security_groups) == 0 && output.consul_egress.port == 443
    error_message = "Prometheus must reach the servers' block on their HTTPS port, and no group; got ${jsonencode(output.consul_egress)}"
  }

  assert {
    condition = alltrue(flatten([
      for j in yamldecode(output.config).scrape_configs : [
        for sd in lookup(j, "consul_sd_configs", []) : sd.server == "consul.internal.example.com:443" && sd.datacenter == "dc2" && sd.tls_config.server_name == "server.dc2.consul"
      ]
    ]))
    error_message = "every consul_sd_config must name the servers, their datacenter and the name their certificate carries; got ${output.config}"
  }

  assert {
    condition     = output.url_in_vpc == null && !contains(output.jobs, "migration-controller")
    error_message = "without a namespace or DNS jobs, no in-VPC URL and no controller job; got ${jsonencode(output.jobs)}"
  }
}

run "refuses_prometheus_open_to_anyone" {
  command = plan

  variables {
    vpc_id                           = run.vpc.vpc_id
    subnet_ids                       = run.vpc.subnet_ids
    cluster_arn                      = run.cluster.cluster_arn
    log_group_name                   = run.cluster.log_group_name
    consul_server_security_group_ids = [run.setup.consul_security_group_id]
    target_security_group_id         = run.setup.mesh_security_group_id
    load_balancer_arn                = run.alb.arn
    load_balancer_dns_name           = run.alb.dns_name
    load_balancer_security_group_id  = run.alb.security_group_id
    ingress_cidrs                    = ["0.0.0.0/0"]
  }

  expect_failures = [var.ingress_cidrs]
}
