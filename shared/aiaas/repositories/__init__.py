"""Storage on AWS. Each repository takes its client in the constructor (boto3's, or the
stdlib LiteClient where boto3's import would dominate a cold start) and translates AWS errors
into domain errors here, at the boundary."""
