variable "name" {
  description = "The copy's name: prefix of the role, the invoke policy and the layer, which two copies must not share."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,10}[a-z0-9]$", var.name))
    error_message = "name must be 2 to 12 lower-case letters, digits or -, starting with a letter (IAM role names hold 64 characters)."
  }
}

variable "function_name" {
  description = "Name of the Lambda function, and so of its Consul service (the registrator registers a function under its name): `cargo lambda deploy` creates the function itself."
  type        = string
  default     = "greeter-lambda"

  validation {
    condition     = can(regex("^[a-zA-Z0-9-_]{1,50}$", var.function_name))
    error_message = "function_name must be 1 to 50 letters, digits, - or _ (the role's name is NAME-FUNCTION, 64 characters at most)."
  }
}

variable "extension_zip" {
  description = "Path of the consul-lambda-extension zip for arm64, as scripts/fetch-lambda-extension leaves it."
  type        = string

  validation {
    condition     = endswith(var.extension_zip, ".zip") && fileexists(var.extension_zip)
    error_message = "extension_zip must name an existing .zip: run ./scripts/fetch-lambda-extension first, which downloads it and checks its SHA-256."
  }
}

variable "extension_version" {
  description = "The consul-lambda-extension version in extension_zip, recorded in the layer's description."
  type        = string

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+(-[a-z0-9.]+)?$", var.extension_version))
    error_message = "extension_version must be a version such as 0.1.0-beta5."
  }
}

variable "extension_data_prefix" {
  description = "The Parameter Store path under which the Lambda registrator writes the extension's mTLS data, e.g. /greeter."
  type        = string

  validation {
    condition     = can(regex("^(/[a-zA-Z0-9_.-]+)+$", var.extension_data_prefix))
    error_message = "extension_data_prefix must be a Parameter Store path such as /greeter: it starts with / and does not end with one."
  }
}

variable "log_retention_days" {
  description = "How long CloudWatch keeps the function's logs, in days."
  type        = number
  default     = 7

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one CloudWatch accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ..., 3653."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
