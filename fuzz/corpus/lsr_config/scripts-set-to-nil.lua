scripts = nil
