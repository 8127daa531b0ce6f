"""What every subsystem may use: the grader's own timeouts (``settings``), atomic file writes (``files``), how a
child process imports this grader (``process``) and where the report templates are (``templates``). Standard
library only: the check client and the zygote import it, and neither may pay for torch or pydantic."""
