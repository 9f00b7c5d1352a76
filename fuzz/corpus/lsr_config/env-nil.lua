_ENV = nil
scripts.rap_host = "h"
