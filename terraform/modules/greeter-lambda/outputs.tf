output "function_name" {
  description = "The function's name, which `cargo lambda deploy` creates."
  value       = var.function_name
}

output "function_arn" {
  description = "The function's ARN, which the invoke policy names."
  value       = local.function_arn
}

output "role_arn" {
  description = "The function's execution role (`cargo lambda deploy --role`)."
  value       = aws_iam_role.function.arn
}

output "role_policy" {
  description = "The role's inline policy as IAM holds it (JSON)."
  value       = aws_iam_role_policy.function.policy
}

output "layer_arn" {
  description = "The consul-lambda-extension layer version (`cargo lambda deploy --layer`)."
  value       = aws_lambda_layer_version.extension.arn
}

output "layer_architectures" {
  description = "The architectures the layer is for."
  value       = aws_lambda_layer_version.extension.compatible_architectures
}

output "invoke_policy_arn" {
  description = "The policy that lets the terminating gateway invoke the function."
  value       = aws_iam_policy.invoke.arn
}

output "invoke_policy" {
  description = "The invoke policy as IAM holds it (JSON)."
  value       = aws_iam_policy.invoke.policy
}

output "extension_data_prefix" {
  description = "CONSUL_EXTENSION_DATA_PREFIX for the function."
  value       = var.extension_data_prefix
}
