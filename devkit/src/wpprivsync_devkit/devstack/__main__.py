from .cli import main

main(prog_name="wp-stack")
