# Every proxy of the mesh. Each sidecar's Envoy serves Prometheus metrics on
# 0.0.0.0:9102 (/metrics), where the in-cluster Prometheus scrapes it from its
# own task, with the consul_destination_service labels the PromQL reads.
# MeshGateway: calls that leave through a mesh gateway use this datacenter's
# own; greeter-lambda's extension comes in through it.
Kind = "proxy-defaults"
Name = "global"
Config {
  envoy_prometheus_bind_addr = "0.0.0.0:9102"
}
MeshGateway {
  Mode = "local"
}
