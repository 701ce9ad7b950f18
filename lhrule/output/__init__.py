"""Stage 4, results → the machine outputs: the JSON of the contract (docs/contract.md) and flat rows
for CSV and Parquet, each stamped with the rulebook's hash and the dataset's fingerprint."""
