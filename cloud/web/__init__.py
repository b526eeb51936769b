"""Static files of the operations-centre page (served by ``cloud.api``)."""
