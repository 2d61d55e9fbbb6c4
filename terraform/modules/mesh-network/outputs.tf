output "mesh_security_group_id" {
  description = "The security group of every mesh task and the Lambda registrator."
  value       = aws_security_group.mesh.id
}

output "lambda_security_group_id" {
  description = "greeter-lambda's security group."
  value       = aws_security_group.lambda.id
}

output "lambda_egress" {
  description = "greeter-lambda's allowed egress to CIDRs as PROTOCOL:FROM-TO>CIDR, as EC2 holds it (mesh-gateway-lb adds the mesh gateway by group)."
  value       = toset([for r in [aws_vpc_security_group_egress_rule.lambda_https] : "${r.ip_protocol}:${r.from_port}-${r.to_port}>${r.cidr_ipv4}"])
}

output "consul_server_ports" {
  description = "The TCP port range the Consul server admits from the mesh (null when its servers are beyond the VPC)."
  value       = one([for r in aws_vpc_security_group_ingress_rule.consul_from_mesh : "${r.from_port}-${r.to_port}"])
}

output "mesh_admits" {
  description = "What the mesh group admits from its own members, as PROTOCOL:FROM-TO."
  value       = toset([for r in aws_vpc_security_group_ingress_rule.mesh_from_mesh : "${r.ip_protocol}:${r.from_port}-${r.to_port}"])
}
