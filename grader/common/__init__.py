"""What every subsystem may use: the grader's own timeouts (``settings``), atomic file writes (``files``) and
how a child process imports this grader (``process``). Standard library only: the check client and the zygote
import it, and neither may pay for torch or pydantic."""
