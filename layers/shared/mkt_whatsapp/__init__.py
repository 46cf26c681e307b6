"""mkt-whatsapp-service shared layer: the domain every Lambda function imports."""
