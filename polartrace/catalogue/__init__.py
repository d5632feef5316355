"""What a filter may name: fields, operators, text units."""
