local _ENV = {scripts = scripts}
::top::
scripts.rap_host = "h"
goto done
::done::
