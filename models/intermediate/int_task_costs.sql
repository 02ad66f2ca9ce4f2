{#- Cost, baseline and savings of every task that is not quarantined, each traced to the
    pricing row it was computed with, and the status as of the build's `as_of`. -#}
with {{ costed_task_ctes(ref('int_task_executions_checked')) }}

select * from costed_tasks
