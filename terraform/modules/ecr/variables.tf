variable "repositories" {
  description = "Names of the private ECR repositories to create: the four ECS services and the Lambda registrator's copy."
  type        = set(string)

  validation {
    condition     = length(var.repositories) > 0 && alltrue([for r in var.repositories : can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*$", r))])
    error_message = "repositories must be a non-empty set of ECR names: lower-case letters, digits and single . _ - between them (e.g. greeter, consul-lambda-registrator)."
  }
}

variable "keep_images" {
  description = "How many images each repository keeps; older ones expire, so repeated pushes cost nothing extra."
  type        = number
  default     = 10

  validation {
    condition     = var.keep_images >= 2 && floor(var.keep_images) == var.keep_images
    error_message = "keep_images must be a whole number of at least 2 (one build's commit tag plus latest)."
  }
}

variable "tags" {
  description = "Tags for every repository."
  type        = map(string)
  default     = {}
}
