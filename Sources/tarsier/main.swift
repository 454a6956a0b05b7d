print("tarsier")
