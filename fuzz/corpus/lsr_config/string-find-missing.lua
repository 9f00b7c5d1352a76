local s = ("x"):rep(300)
return s:find(".-.-.-.-.-b")
