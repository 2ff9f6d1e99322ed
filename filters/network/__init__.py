"""Network rules: parse a line into a typed rule, index them by token, match requests; redirect resources."""
