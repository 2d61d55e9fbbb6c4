# Test scaffolding for scripts/test-terraform's names test: a stand-in for
# hashicorp/consul-lambda-registrator/aws//modules/lambda-registrator 0.1.0-beta4, which cannot be fetched offline.
# It takes the same arguments as the composition passes and records, as
# plan values, the AWS names the real module derives from them (read in its
# source at that version), so that two plans can be compared.

variable "name" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "ecr_image_uri" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "consul_http_addr" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "consul_ca_cert_path" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "consul_http_token_path" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "consul_extension_data_prefix" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "subnet_ids" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "security_group_ids" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "sync_frequency_in_minutes" {
  description = "As the registry module's."
  type        = any
  default     = null
}

resource "terraform_data" "names" {
  input = {
    # Function and role, its policy, its log group, the EventBridge role and
    # rules; and the Parameter Store paths it reads and writes.
    aws_names = [
      var.name, "${var.name}-policy", "/aws/lambda/${var.name}", "${var.name}-eventbridge",
      "${var.name}-cron", "${var.name}-lambda_events",
    ]
    paths = [var.ecr_image_uri, var.consul_ca_cert_path, var.consul_http_token_path, var.consul_extension_data_prefix]
  }
}
