scripts = 5
