from roost.cli import main

main(prog_name="roost")  # the same command as `roost`, and named so in its messages
