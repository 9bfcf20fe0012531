"""The embedded serverless platform: S3 server, replica providers and the gateway."""
