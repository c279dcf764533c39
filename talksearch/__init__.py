"""Code shared by the index builder and the Lambda functions: contracts, schema, storage."""
