package dev.taskstate.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * TaskService stores tasks and their shared variables for the authenticated
 * owner. A task of another owner is indistinguishable from a missing one.
 * A call may also carry a subject in the `taskstate-subject` metadata (the end
 * user on whose behalf the caller acts, e.g. an MCP server's authenticated
 * user): CreateTask records it on the task, and every other call then sees
 * only that subject's tasks; a task of another subject is indistinguishable
 * from a missing one, in reads, writes, lists and watches alike. A call
 * without the metadata sees all of the owner's tasks (workers, operators).
 * </pre>
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class TaskServiceGrpc {

  private TaskServiceGrpc() {}

  public static final java.lang.String SERVICE_NAME = "taskstate.v1.TaskService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<dev.taskstate.v1.CreateTaskRequest,
      dev.taskstate.v1.CreateTaskResponse> getCreateTaskMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CreateTask",
      requestType = dev.taskstate.v1.CreateTaskRequest.class,
      responseType = dev.taskstate.v1.CreateTaskResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.taskstate.v1.CreateTaskRequest,
      dev.taskstate.v1.CreateTaskResponse> getCreateTaskMethod() {
    io.grpc.MethodDescriptor<dev.taskstate.v1.CreateTaskRequest, dev.taskstate.v1.CreateTaskResponse> getCreateTaskMethod;
    if ((getCreateTaskMethod = TaskServiceGrpc.getCreateTaskMethod) == null) {
      synchronized (TaskServiceGrpc.class) {
        if ((getCreateTaskMethod = TaskServiceGrpc.getCreateTaskMethod) == null) {
          TaskServiceGrpc.getCreateTaskMethod = getCreateTaskMethod =
              io.grpc.MethodDescriptor.<dev.taskstate.v1.CreateTaskRequest, dev.taskstate.v1.CreateTaskResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CreateTask"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.CreateTaskRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.CreateTaskResponse.getDefaultInstance()))
              .setSchemaDescriptor(new TaskServiceMethodDescriptorSupplier("CreateTask"))
              .build();
        }
      }
    }
    return getCreateTaskMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.taskstate.v1.GetTaskRequest,
      dev.taskstate.v1.GetTaskResponse> getGetTaskMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GetTask",
      requestType = dev.taskstate.v1.GetTaskRequest.class,
      responseType = dev.taskstate.v1.GetTaskResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.taskstate.v1.GetTaskRequest,
      dev.taskstate.v1.GetTaskResponse> getGetTaskMethod() {
    io.grpc.MethodDescriptor<dev.taskstate.v1.GetTaskRequest, dev.taskstate.v1.GetTaskResponse> getGetTaskMethod;
    if ((getGetTaskMethod = TaskServiceGrpc.getGetTaskMethod) == null) {
      synchronized (TaskServiceGrpc.class) {
        if ((getGetTaskMethod = TaskServiceGrpc.getGetTaskMethod) == null) {
          TaskServiceGrpc.getGetTaskMethod = getGetTaskMethod =
              io.grpc.MethodDescriptor.<dev.taskstate.v1.GetTaskRequest, dev.taskstate.v1.GetTaskResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GetTask"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.GetTaskRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.GetTaskResponse.getDefaultInstance()))
              .setSchemaDescriptor(new TaskServiceMethodDescriptorSupplier("GetTask"))
              .build();
        }
      }
    }
    return getGetTaskMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.taskstate.v1.ListTasksRequest,
      dev.taskstate.v1.ListTasksResponse> getListTasksMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListTasks",
      requestType = dev.taskstate.v1.ListTasksRequest.class,
      responseType = dev.taskstate.v1.ListTasksResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.taskstate.v1.ListTasksRequest,
      dev.taskstate.v1.ListTasksResponse> getListTasksMethod() {
    io.grpc.MethodDescriptor<dev.taskstate.v1.ListTasksRequest, dev.taskstate.v1.ListTasksResponse> getListTasksMethod;
    if ((getListTasksMethod = TaskServiceGrpc.getListTasksMethod) == null) {
      synchronized (TaskServiceGrpc.class) {
        if ((getListTasksMethod = TaskServiceGrpc.getListTasksMethod) == null) {
          TaskServiceGrpc.getListTasksMethod = getListTasksMethod =
              io.grpc.MethodDescriptor.<dev.taskstate.v1.ListTasksRequest, dev.taskstate.v1.ListTasksResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListTasks"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.ListTasksRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.ListTasksResponse.getDefaultInstance()))
              .setSchemaDescriptor(new TaskServiceMethodDescriptorSupplier("ListTasks"))
              .build();
        }
      }
    }
    return getListTasksMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.taskstate.v1.UpdateTaskStatusRequest,
      dev.taskstate.v1.UpdateTaskStatusResponse> getUpdateTaskStatusMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "UpdateTaskStatus",
      requestType = dev.taskstate.v1.UpdateTaskStatusRequest.class,
      responseType = dev.taskstate.v1.UpdateTaskStatusResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.taskstate.v1.UpdateTaskStatusRequest,
      dev.taskstate.v1.UpdateTaskStatusResponse> getUpdateTaskStatusMethod() {
    io.grpc.MethodDescriptor<dev.taskstate.v1.UpdateTaskStatusRequest, dev.taskstate.v1.UpdateTaskStatusResponse> getUpdateTaskStatusMethod;
    if ((getUpdateTaskStatusMethod = TaskServiceGrpc.getUpdateTaskStatusMethod) == null) {
      synchronized (TaskServiceGrpc.class) {
        if ((getUpdateTaskStatusMethod = TaskServiceGrpc.getUpdateTaskStatusMethod) == null) {
          TaskServiceGrpc.getUpdateTaskStatusMethod = getUpdateTaskStatusMethod =
              io.grpc.MethodDescriptor.<dev.taskstate.v1.UpdateTaskStatusRequest, dev.taskstate.v1.UpdateTaskStatusResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "UpdateTaskStatus"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.UpdateTaskStatusRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.UpdateTaskStatusResponse.getDefaultInstance()))
              .setSchemaDescriptor(new TaskServiceMethodDescriptorSupplier("UpdateTaskStatus"))
              .build();
        }
      }
    }
    return getUpdateTaskStatusMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.taskstate.v1.SetVariablesRequest,
      dev.taskstate.v1.SetVariablesResponse> getSetVariablesMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "SetVariables",
      requestType = dev.taskstate.v1.SetVariablesRequest.class,
      responseType = dev.taskstate.v1.SetVariablesResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.taskstate.v1.SetVariablesRequest,
      dev.taskstate.v1.SetVariablesResponse> getSetVariablesMethod() {
    io.grpc.MethodDescriptor<dev.taskstate.v1.SetVariablesRequest, dev.taskstate.v1.SetVariablesResponse> getSetVariablesMethod;
    if ((getSetVariablesMethod = TaskServiceGrpc.getSetVariablesMethod) == null) {
      synchronized (TaskServiceGrpc.class) {
        if ((getSetVariablesMethod = TaskServiceGrpc.getSetVariablesMethod) == null) {
          TaskServiceGrpc.getSetVariablesMethod = getSetVariablesMethod =
              io.grpc.MethodDescriptor.<dev.taskstate.v1.SetVariablesRequest, dev.taskstate.v1.SetVariablesResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "SetVariables"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.SetVariablesRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.SetVariablesResponse.getDefaultInstance()))
              .setSchemaDescriptor(new TaskServiceMethodDescriptorSupplier("SetVariables"))
              .build();
        }
      }
    }
    return getSetVariablesMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.taskstate.v1.PutIfVersionRequest,
      dev.taskstate.v1.PutIfVersionResponse> getPutIfVersionMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "PutIfVersion",
      requestType = dev.taskstate.v1.PutIfVersionRequest.class,
      responseType = dev.taskstate.v1.PutIfVersionResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.taskstate.v1.PutIfVersionRequest,
      dev.taskstate.v1.PutIfVersionResponse> getPutIfVersionMethod() {
    io.grpc.MethodDescriptor<dev.taskstate.v1.PutIfVersionRequest, dev.taskstate.v1.PutIfVersionResponse> getPutIfVersionMethod;
    if ((getPutIfVersionMethod = TaskServiceGrpc.getPutIfVersionMethod) == null) {
      synchronized (TaskServiceGrpc.class) {
        if ((getPutIfVersionMethod = TaskServiceGrpc.getPutIfVersionMethod) == null) {
          TaskServiceGrpc.getPutIfVersionMethod = getPutIfVersionMethod =
              io.grpc.MethodDescriptor.<dev.taskstate.v1.PutIfVersionRequest, dev.taskstate.v1.PutIfVersionResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "PutIfVersion"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.PutIfVersionRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.PutIfVersionResponse.getDefaultInstance()))
              .setSchemaDescriptor(new TaskServiceMethodDescriptorSupplier("PutIfVersion"))
              .build();
        }
      }
    }
    return getPutIfVersionMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.taskstate.v1.CompleteTaskRequest,
      dev.taskstate.v1.CompleteTaskResponse> getCompleteTaskMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CompleteTask",
      requestType = dev.taskstate.v1.CompleteTaskRequest.class,
      responseType = dev.taskstate.v1.CompleteTaskResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.taskstate.v1.CompleteTaskRequest,
      dev.taskstate.v1.CompleteTaskResponse> getCompleteTaskMethod() {
    io.grpc.MethodDescriptor<dev.taskstate.v1.CompleteTaskRequest, dev.taskstate.v1.CompleteTaskResponse> getCompleteTaskMethod;
    if ((getCompleteTaskMethod = TaskServiceGrpc.getCompleteTaskMethod) == null) {
      synchronized (TaskServiceGrpc.class) {
        if ((getCompleteTaskMethod = TaskServiceGrpc.getCompleteTaskMethod) == null) {
          TaskServiceGrpc.getCompleteTaskMethod = getCompleteTaskMethod =
              io.grpc.MethodDescriptor.<dev.taskstate.v1.CompleteTaskRequest, dev.taskstate.v1.CompleteTaskResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CompleteTask"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.CompleteTaskRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.CompleteTaskResponse.getDefaultInstance()))
              .setSchemaDescriptor(new TaskServiceMethodDescriptorSupplier("CompleteTask"))
              .build();
        }
      }
    }
    return getCompleteTaskMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.taskstate.v1.CancelTaskRequest,
      dev.taskstate.v1.CancelTaskResponse> getCancelTaskMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CancelTask",
      requestType = dev.taskstate.v1.CancelTaskRequest.class,
      responseType = dev.taskstate.v1.CancelTaskResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.taskstate.v1.CancelTaskRequest,
      dev.taskstate.v1.CancelTaskResponse> getCancelTaskMethod() {
    io.grpc.MethodDescriptor<dev.taskstate.v1.CancelTaskRequest, dev.taskstate.v1.CancelTaskResponse> getCancelTaskMethod;
    if ((getCancelTaskMethod = TaskServiceGrpc.getCancelTaskMethod) == null) {
      synchronized (TaskServiceGrpc.class) {
        if ((getCancelTaskMethod = TaskServiceGrpc.getCancelTaskMethod) == null) {
          TaskServiceGrpc.getCancelTaskMethod = getCancelTaskMethod =
              io.grpc.MethodDescriptor.<dev.taskstate.v1.CancelTaskRequest, dev.taskstate.v1.CancelTaskResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CancelTask"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.CancelTaskRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.CancelTaskResponse.getDefaultInstance()))
              .setSchemaDescriptor(new TaskServiceMethodDescriptorSupplier("CancelTask"))
              .build();
        }
      }
    }
    return getCancelTaskMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.taskstate.v1.DeleteTaskRequest,
      dev.taskstate.v1.DeleteTaskResponse> getDeleteTaskMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "DeleteTask",
      requestType = dev.taskstate.v1.DeleteTaskRequest.class,
      responseType = dev.taskstate.v1.DeleteTaskResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.taskstate.v1.DeleteTaskRequest,
      dev.taskstate.v1.DeleteTaskResponse> getDeleteTaskMethod() {
    io.grpc.MethodDescriptor<dev.taskstate.v1.DeleteTaskRequest, dev.taskstate.v1.DeleteTaskResponse> getDeleteTaskMethod;
    if ((getDeleteTaskMethod = TaskServiceGrpc.getDeleteTaskMethod) == null) {
      synchronized (TaskServiceGrpc.class) {
        if ((getDeleteTaskMethod = TaskServiceGrpc.getDeleteTaskMethod) == null) {
          TaskServiceGrpc.getDeleteTaskMethod = getDeleteTaskMethod =
              io.grpc.MethodDescriptor.<dev.taskstate.v1.DeleteTaskRequest, dev.taskstate.v1.DeleteTaskResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "DeleteTask"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.DeleteTaskRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.DeleteTaskResponse.getDefaultInstance()))
              .setSchemaDescriptor(new TaskServiceMethodDescriptorSupplier("DeleteTask"))
              .build();
        }
      }
    }
    return getDeleteTaskMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.taskstate.v1.WaitTaskRequest,
      dev.taskstate.v1.WaitTaskResponse> getWaitTaskMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "WaitTask",
      requestType = dev.taskstate.v1.WaitTaskRequest.class,
      responseType = dev.taskstate.v1.WaitTaskResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.taskstate.v1.WaitTaskRequest,
      dev.taskstate.v1.WaitTaskResponse> getWaitTaskMethod() {
    io.grpc.MethodDescriptor<dev.taskstate.v1.WaitTaskRequest, dev.taskstate.v1.WaitTaskResponse> getWaitTaskMethod;
    if ((getWaitTaskMethod = TaskServiceGrpc.getWaitTaskMethod) == null) {
      synchronized (TaskServiceGrpc.class) {
        if ((getWaitTaskMethod = TaskServiceGrpc.getWaitTaskMethod) == null) {
          TaskServiceGrpc.getWaitTaskMethod = getWaitTaskMethod =
              io.grpc.MethodDescriptor.<dev.taskstate.v1.WaitTaskRequest, dev.taskstate.v1.WaitTaskResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "WaitTask"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.WaitTaskRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.WaitTaskResponse.getDefaultInstance()))
              .setSchemaDescriptor(new TaskServiceMethodDescriptorSupplier("WaitTask"))
              .build();
        }
      }
    }
    return getWaitTaskMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.taskstate.v1.WatchTaskRequest,
      dev.taskstate.v1.WatchTaskResponse> getWatchTaskMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "WatchTask",
      requestType = dev.taskstate.v1.WatchTaskRequest.class,
      responseType = dev.taskstate.v1.WatchTaskResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
  public static io.grpc.MethodDescriptor<dev.taskstate.v1.WatchTaskRequest,
      dev.taskstate.v1.WatchTaskResponse> getWatchTaskMethod() {
    io.grpc.MethodDescriptor<dev.taskstate.v1.WatchTaskRequest, dev.taskstate.v1.WatchTaskResponse> getWatchTaskMethod;
    if ((getWatchTaskMethod = TaskServiceGrpc.getWatchTaskMethod) == null) {
      synchronized (TaskServiceGrpc.class) {
        if ((getWatchTaskMethod = TaskServiceGrpc.getWatchTaskMethod) == null) {
          TaskServiceGrpc.getWatchTaskMethod = getWatchTaskMethod =
              io.grpc.MethodDescriptor.<dev.taskstate.v1.WatchTaskRequest, dev.taskstate.v1.WatchTaskResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "WatchTask"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.WatchTaskRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.WatchTaskResponse.getDefaultInstance()))
              .setSchemaDescriptor(new TaskServiceMethodDescriptorSupplier("WatchTask"))
              .build();
        }
      }
    }
    return getWatchTaskMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.taskstate.v1.WatchTasksRequest,
      dev.taskstate.v1.WatchTasksResponse> getWatchTasksMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "WatchTasks",
      requestType = dev.taskstate.v1.WatchTasksRequest.class,
      responseType = dev.taskstate.v1.WatchTasksResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
  public static io.grpc.MethodDescriptor<dev.taskstate.v1.WatchTasksRequest,
      dev.taskstate.v1.WatchTasksResponse> getWatchTasksMethod() {
    io.grpc.MethodDescriptor<dev.taskstate.v1.WatchTasksRequest, dev.taskstate.v1.WatchTasksResponse> getWatchTasksMethod;
    if ((getWatchTasksMethod = TaskServiceGrpc.getWatchTasksMethod) == null) {
      synchronized (TaskServiceGrpc.class) {
        if ((getWatchTasksMethod = TaskServiceGrpc.getWatchTasksMethod) == null) {
          TaskServiceGrpc.getWatchTasksMethod = getWatchTasksMethod =
              io.grpc.MethodDescriptor.<dev.taskstate.v1.WatchTasksRequest, dev.taskstate.v1.WatchTasksResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "WatchTasks"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.WatchTasksRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.WatchTasksResponse.getDefaultInstance()))
              .setSchemaDescriptor(new TaskServiceMethodDescriptorSupplier("WatchTasks"))
              .build();
        }
      }
    }
    return getWatchTasksMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.taskstate.v1.ClaimTaskRequest,
      dev.taskstate.v1.ClaimTaskResponse> getClaimTaskMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ClaimTask",
      requestType = dev.taskstate.v1.ClaimTaskRequest.class,
      responseType = dev.taskstate.v1.ClaimTaskResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.taskstate.v1.ClaimTaskRequest,
      dev.taskstate.v1.ClaimTaskResponse> getClaimTaskMethod() {
    io.grpc.MethodDescriptor<dev.taskstate.v1.ClaimTaskRequest, dev.taskstate.v1.ClaimTaskResponse> getClaimTaskMethod;
    if ((getClaimTaskMethod = TaskServiceGrpc.getClaimTaskMethod) == null) {
      synchronized (TaskServiceGrpc.class) {
        if ((getClaimTaskMethod = TaskServiceGrpc.getClaimTaskMethod) == null) {
          TaskServiceGrpc.getClaimTaskMethod = getClaimTaskMethod =
              io.grpc.MethodDescriptor.<dev.taskstate.v1.ClaimTaskRequest, dev.taskstate.v1.ClaimTaskResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ClaimTask"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.ClaimTaskRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.ClaimTaskResponse.getDefaultInstance()))
              .setSchemaDescriptor(new TaskServiceMethodDescriptorSupplier("ClaimTask"))
              .build();
        }
      }
    }
    return getClaimTaskMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.taskstate.v1.RenewLeaseRequest,
      dev.taskstate.v1.RenewLeaseResponse> getRenewLeaseMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "RenewLease",
      requestType = dev.taskstate.v1.RenewLeaseRequest.class,
      responseType = dev.taskstate.v1.RenewLeaseResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.taskstate.v1.RenewLeaseRequest,
      dev.taskstate.v1.RenewLeaseResponse> getRenewLeaseMethod() {
    io.grpc.MethodDescriptor<dev.taskstate.v1.RenewLeaseRequest, dev.taskstate.v1.RenewLeaseResponse> getRenewLeaseMethod;
    if ((getRenewLeaseMethod = TaskServiceGrpc.getRenewLeaseMethod) == null) {
      synchronized (TaskServiceGrpc.class) {
        if ((getRenewLeaseMethod = TaskServiceGrpc.getRenewLeaseMethod) == null) {
          TaskServiceGrpc.getRenewLeaseMethod = getRenewLeaseMethod =
              io.grpc.MethodDescriptor.<dev.taskstate.v1.RenewLeaseRequest, dev.taskstate.v1.RenewLeaseResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "RenewLease"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.RenewLeaseRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.RenewLeaseResponse.getDefaultInstance()))
              .setSchemaDescriptor(new TaskServiceMethodDescriptorSupplier("RenewLease"))
              .build();
        }
      }
    }
    return getRenewLeaseMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.taskstate.v1.ProvideInputRequest,
      dev.taskstate.v1.ProvideInputResponse> getProvideInputMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ProvideInput",
      requestType = dev.taskstate.v1.ProvideInputRequest.class,
      responseType = dev.taskstate.v1.ProvideInputResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.taskstate.v1.ProvideInputRequest,
      dev.taskstate.v1.ProvideInputResponse> getProvideInputMethod() {
    io.grpc.MethodDescriptor<dev.taskstate.v1.ProvideInputRequest, dev.taskstate.v1.ProvideInputResponse> getProvideInputMethod;
    if ((getProvideInputMethod = TaskServiceGrpc.getProvideInputMethod) == null) {
      synchronized (TaskServiceGrpc.class) {
        if ((getProvideInputMethod = TaskServiceGrpc.getProvideInputMethod) == null) {
          TaskServiceGrpc.getProvideInputMethod = getProvideInputMethod =
              io.grpc.MethodDescriptor.<dev.taskstate.v1.ProvideInputRequest, dev.taskstate.v1.ProvideInputResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ProvideInput"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.ProvideInputRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.ProvideInputResponse.getDefaultInstance()))
              .setSchemaDescriptor(new TaskServiceMethodDescriptorSupplier("ProvideInput"))
              .build();
        }
      }
    }
    return getProvideInputMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.taskstate.v1.RequestCancelRequest,
      dev.taskstate.v1.RequestCancelResponse> getRequestCancelMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "RequestCancel",
      requestType = dev.taskstate.v1.RequestCancelRequest.class,
      responseType = dev.taskstate.v1.RequestCancelResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.taskstate.v1.RequestCancelRequest,
      dev.taskstate.v1.RequestCancelResponse> getRequestCancelMethod() {
    io.grpc.MethodDescriptor<dev.taskstate.v1.RequestCancelRequest, dev.taskstate.v1.RequestCancelResponse> getRequestCancelMethod;
    if ((getRequestCancelMethod = TaskServiceGrpc.getRequestCancelMethod) == null) {
      synchronized (TaskServiceGrpc.class) {
        if ((getRequestCancelMethod = TaskServiceGrpc.getRequestCancelMethod) == null) {
          TaskServiceGrpc.getRequestCancelMethod = getRequestCancelMethod =
              io.grpc.MethodDescriptor.<dev.taskstate.v1.RequestCancelRequest, dev.taskstate.v1.RequestCancelResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "RequestCancel"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.RequestCancelRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.taskstate.v1.RequestCancelResponse.getDefaultInstance()))
              .setSchemaDescriptor(new TaskServiceMethodDescriptorSupplier("RequestCancel"))
              .build();
        }
      }
    }
    return getRequestCancelMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static TaskServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<TaskServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<TaskServiceStub>() {
        @java.lang.Override
        public TaskServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new TaskServiceStub(channel, callOptions);
        }
      };
    return TaskServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static TaskServiceBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<TaskServiceBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<TaskServiceBlockingV2Stub>() {
        @java.lang.Override
        public TaskServiceBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new TaskServiceBlockingV2Stub(channel, callOptions);
        }
      };
    return TaskServiceBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static TaskServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<TaskServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<TaskServiceBlockingStub>() {
        @java.lang.Override
        public TaskServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new TaskServiceBlockingStub(channel, callOptions);
        }
      };
    return TaskServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static TaskServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<TaskServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<TaskServiceFutureStub>() {
        @java.lang.Override
        public TaskServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new TaskServiceFutureStub(channel, callOptions);
        }
      };
    return TaskServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * TaskService stores tasks and their shared variables for the authenticated
   * owner. A task of another owner is indistinguishable from a missing one.
   * A call may also carry a subject in the `taskstate-subject` metadata (the end
   * user on whose behalf the caller acts, e.g. an MCP server's authenticated
   * user): CreateTask records it on the task, and every other call then sees
   * only that subject's tasks; a task of another subject is indistinguishable
   * from a missing one, in reads, writes, lists and watches alike. A call
   * without the metadata sees all of the owner's tasks (workers, operators).
   * </pre>
   */
  public interface AsyncService {

    /**
     * <pre>
     * Creates a task in TASK_STATUS_WORKING with version 1. With a request_id,
     * a retry returns the task created first and creates nothing.
     * </pre>
     */
    default void createTask(dev.taskstate.v1.CreateTaskRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.CreateTaskResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCreateTaskMethod(), responseObserver);
    }

    /**
     * <pre>
     * Returns one task.
     * </pre>
     */
    default void getTask(dev.taskstate.v1.GetTaskRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.GetTaskResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetTaskMethod(), responseObserver);
    }

    /**
     * <pre>
     * Lists the caller's tasks, newest first.
     * </pre>
     */
    default void listTasks(dev.taskstate.v1.ListTasksRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.ListTasksResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListTasksMethod(), responseObserver);
    }

    /**
     * <pre>
     * Moves a task to another non-terminal or terminal status.
     * </pre>
     */
    default void updateTaskStatus(dev.taskstate.v1.UpdateTaskStatusRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.UpdateTaskStatusResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getUpdateTaskStatusMethod(), responseObserver);
    }

    /**
     * <pre>
     * Merges variables into the task: each key is set, a null_value deletes it.
     * </pre>
     */
    default void setVariables(dev.taskstate.v1.SetVariablesRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.SetVariablesResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getSetVariablesMethod(), responseObserver);
    }

    /**
     * <pre>
     * The general compare-and-swap write: applies exactly the masked fields if
     * the stored version equals expected_version.
     * </pre>
     */
    default void putIfVersion(dev.taskstate.v1.PutIfVersionRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.PutIfVersionResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getPutIfVersionMethod(), responseObserver);
    }

    /**
     * <pre>
     * Completes or fails a task in one atomic write.
     * </pre>
     */
    default void completeTask(dev.taskstate.v1.CompleteTaskRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.CompleteTaskResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCompleteTaskMethod(), responseObserver);
    }

    /**
     * <pre>
     * Moves a non-terminal task to TASK_STATUS_CANCELLED.
     * </pre>
     */
    default void cancelTask(dev.taskstate.v1.CancelTaskRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.CancelTaskResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCancelTaskMethod(), responseObserver);
    }

    /**
     * <pre>
     * Removes a task, whatever its status.
     * </pre>
     */
    default void deleteTask(dev.taskstate.v1.DeleteTaskRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.DeleteTaskResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getDeleteTaskMethod(), responseObserver);
    }

    /**
     * <pre>
     * Returns the task as soon as its status is one of `statuses`, or the
     * current task (with OK) when the timeout or the call's deadline comes first.
     * </pre>
     */
    default void waitTask(dev.taskstate.v1.WaitTaskRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.WaitTaskResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getWaitTaskMethod(), responseObserver);
    }

    /**
     * <pre>
     * Streams the task's committed versions in increasing order, ending with OK
     * right after the terminal version, or NOT_FOUND when the task is deleted or
     * expires.
     * </pre>
     */
    default void watchTask(dev.taskstate.v1.WatchTaskRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.WatchTaskResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getWatchTaskMethod(), responseObserver);
    }

    /**
     * <pre>
     * Streams every committed change to any of the caller's tasks (creates
     * included) from the moment the stream is open, or from a resume_cursor.
     * </pre>
     */
    default void watchTasks(dev.taskstate.v1.WatchTasksRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.WatchTasksResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getWatchTasksMethod(), responseObserver);
    }

    /**
     * <pre>
     * Claims a task for a lease: the task named, or the oldest task offered for
     * claiming (created with a lease_policy). The answer carries the lease and
     * its fencing token.
     * </pre>
     */
    default void claimTask(dev.taskstate.v1.ClaimTaskRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.ClaimTaskResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getClaimTaskMethod(), responseObserver);
    }

    /**
     * <pre>
     * Extends a lease the caller holds (a heartbeat), optionally with a
     * progress note, in one write.
     * </pre>
     */
    default void renewLease(dev.taskstate.v1.RenewLeaseRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.RenewLeaseResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getRenewLeaseMethod(), responseObserver);
    }

    /**
     * <pre>
     * Answers some of the task's outstanding input requests: keys without an
     * outstanding request (never asked, or already answered) are ignored, so an
     * answer is recorded once. When none remains outstanding, an input_required
     * task moves back to working in the same write.
     * </pre>
     */
    default void provideInput(dev.taskstate.v1.ProvideInputRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.ProvideInputResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getProvideInputMethod(), responseObserver);
    }

    /**
     * <pre>
     * Asks the task's worker to stop: sets cancel_requested (idempotent). The
     * task stays as it is until the worker, seeing the flag through its watch,
     * cancels or finishes it; a terminal task is returned unchanged.
     * </pre>
     */
    default void requestCancel(dev.taskstate.v1.RequestCancelRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.RequestCancelResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getRequestCancelMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service TaskService.
   * <pre>
   * TaskService stores tasks and their shared variables for the authenticated
   * owner. A task of another owner is indistinguishable from a missing one.
   * A call may also carry a subject in the `taskstate-subject` metadata (the end
   * user on whose behalf the caller acts, e.g. an MCP server's authenticated
   * user): CreateTask records it on the task, and every other call then sees
   * only that subject's tasks; a task of another subject is indistinguishable
   * from a missing one, in reads, writes, lists and watches alike. A call
   * without the metadata sees all of the owner's tasks (workers, operators).
   * </pre>
   */
  public static abstract class TaskServiceImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return TaskServiceGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service TaskService.
   * <pre>
   * TaskService stores tasks and their shared variables for the authenticated
   * owner. A task of another owner is indistinguishable from a missing one.
   * A call may also carry a subject in the `taskstate-subject` metadata (the end
   * user on whose behalf the caller acts, e.g. an MCP server's authenticated
   * user): CreateTask records it on the task, and every other call then sees
   * only that subject's tasks; a task of another subject is indistinguishable
   * from a missing one, in reads, writes, lists and watches alike. A call
   * without the metadata sees all of the owner's tasks (workers, operators).
   * </pre>
   */
  public static final class TaskServiceStub
      extends io.grpc.stub.AbstractAsyncStub<TaskServiceStub> {
    private TaskServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected TaskServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new TaskServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Creates a task in TASK_STATUS_WORKING with version 1. With a request_id,
     * a retry returns the task created first and creates nothing.
     * </pre>
     */
    public void createTask(dev.taskstate.v1.CreateTaskRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.CreateTaskResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCreateTaskMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Returns one task.
     * </pre>
     */
    public void getTask(dev.taskstate.v1.GetTaskRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.GetTaskResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetTaskMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Lists the caller's tasks, newest first.
     * </pre>
     */
    public void listTasks(dev.taskstate.v1.ListTasksRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.ListTasksResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListTasksMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Moves a task to another non-terminal or terminal status.
     * </pre>
     */
    public void updateTaskStatus(dev.taskstate.v1.UpdateTaskStatusRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.UpdateTaskStatusResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getUpdateTaskStatusMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Merges variables into the task: each key is set, a null_value deletes it.
     * </pre>
     */
    public void setVariables(dev.taskstate.v1.SetVariablesRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.SetVariablesResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getSetVariablesMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * The general compare-and-swap write: applies exactly the masked fields if
     * the stored version equals expected_version.
     * </pre>
     */
    public void putIfVersion(dev.taskstate.v1.PutIfVersionRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.PutIfVersionResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getPutIfVersionMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Completes or fails a task in one atomic write.
     * </pre>
     */
    public void completeTask(dev.taskstate.v1.CompleteTaskRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.CompleteTaskResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCompleteTaskMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Moves a non-terminal task to TASK_STATUS_CANCELLED.
     * </pre>
     */
    public void cancelTask(dev.taskstate.v1.CancelTaskRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.CancelTaskResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCancelTaskMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Removes a task, whatever its status.
     * </pre>
     */
    public void deleteTask(dev.taskstate.v1.DeleteTaskRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.DeleteTaskResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getDeleteTaskMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Returns the task as soon as its status is one of `statuses`, or the
     * current task (with OK) when the timeout or the call's deadline comes first.
     * </pre>
     */
    public void waitTask(dev.taskstate.v1.WaitTaskRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.WaitTaskResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getWaitTaskMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Streams the task's committed versions in increasing order, ending with OK
     * right after the terminal version, or NOT_FOUND when the task is deleted or
     * expires.
     * </pre>
     */
    public void watchTask(dev.taskstate.v1.WatchTaskRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.WatchTaskResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncServerStreamingCall(
          getChannel().newCall(getWatchTaskMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Streams every committed change to any of the caller's tasks (creates
     * included) from the moment the stream is open, or from a resume_cursor.
     * </pre>
     */
    public void watchTasks(dev.taskstate.v1.WatchTasksRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.WatchTasksResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncServerStreamingCall(
          getChannel().newCall(getWatchTasksMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Claims a task for a lease: the task named, or the oldest task offered for
     * claiming (created with a lease_policy). The answer carries the lease and
     * its fencing token.
     * </pre>
     */
    public void claimTask(dev.taskstate.v1.ClaimTaskRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.ClaimTaskResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getClaimTaskMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Extends a lease the caller holds (a heartbeat), optionally with a
     * progress note, in one write.
     * </pre>
     */
    public void renewLease(dev.taskstate.v1.RenewLeaseRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.RenewLeaseResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getRenewLeaseMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Answers some of the task's outstanding input requests: keys without an
     * outstanding request (never asked, or already answered) are ignored, so an
     * answer is recorded once. When none remains outstanding, an input_required
     * task moves back to working in the same write.
     * </pre>
     */
    public void provideInput(dev.taskstate.v1.ProvideInputRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.ProvideInputResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getProvideInputMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Asks the task's worker to stop: sets cancel_requested (idempotent). The
     * task stays as it is until the worker, seeing the flag through its watch,
     * cancels or finishes it; a terminal task is returned unchanged.
     * </pre>
     */
    public void requestCancel(dev.taskstate.v1.RequestCancelRequest request,
        io.grpc.stub.StreamObserver<dev.taskstate.v1.RequestCancelResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getRequestCancelMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service TaskService.
   * <pre>
   * TaskService stores tasks and their shared variables for the authenticated
   * owner. A task of another owner is indistinguishable from a missing one.
   * A call may also carry a subject in the `taskstate-subject` metadata (the end
   * user on whose behalf the caller acts, e.g. an MCP server's authenticated
   * user): CreateTask records it on the task, and every other call then sees
   * only that subject's tasks; a task of another subject is indistinguishable
   * from a missing one, in reads, writes, lists and watches alike. A call
   * without the metadata sees all of the owner's tasks (workers, operators).
   * </pre>
   */
  public static final class TaskServiceBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<TaskServiceBlockingV2Stub> {
    private TaskServiceBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected TaskServiceBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new TaskServiceBlockingV2Stub(channel, callOptions);
    }

    /**
     * <pre>
     * Creates a task in TASK_STATUS_WORKING with version 1. With a request_id,
     * a retry returns the task created first and creates nothing.
     * </pre>
     */
    public dev.taskstate.v1.CreateTaskResponse createTask(dev.taskstate.v1.CreateTaskRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getCreateTaskMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Returns one task.
     * </pre>
     */
    public dev.taskstate.v1.GetTaskResponse getTask(dev.taskstate.v1.GetTaskRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getGetTaskMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lists the caller's tasks, newest first.
     * </pre>
     */
    public dev.taskstate.v1.ListTasksResponse listTasks(dev.taskstate.v1.ListTasksRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getListTasksMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Moves a task to another non-terminal or terminal status.
     * </pre>
     */
    public dev.taskstate.v1.UpdateTaskStatusResponse updateTaskStatus(dev.taskstate.v1.UpdateTaskStatusRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getUpdateTaskStatusMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Merges variables into the task: each key is set, a null_value deletes it.
     * </pre>
     */
    public dev.taskstate.v1.SetVariablesResponse setVariables(dev.taskstate.v1.SetVariablesRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getSetVariablesMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * The general compare-and-swap write: applies exactly the masked fields if
     * the stored version equals expected_version.
     * </pre>
     */
    public dev.taskstate.v1.PutIfVersionResponse putIfVersion(dev.taskstate.v1.PutIfVersionRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getPutIfVersionMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Completes or fails a task in one atomic write.
     * </pre>
     */
    public dev.taskstate.v1.CompleteTaskResponse completeTask(dev.taskstate.v1.CompleteTaskRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getCompleteTaskMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Moves a non-terminal task to TASK_STATUS_CANCELLED.
     * </pre>
     */
    public dev.taskstate.v1.CancelTaskResponse cancelTask(dev.taskstate.v1.CancelTaskRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getCancelTaskMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Removes a task, whatever its status.
     * </pre>
     */
    public dev.taskstate.v1.DeleteTaskResponse deleteTask(dev.taskstate.v1.DeleteTaskRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getDeleteTaskMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Returns the task as soon as its status is one of `statuses`, or the
     * current task (with OK) when the timeout or the call's deadline comes first.
     * </pre>
     */
    public dev.taskstate.v1.WaitTaskResponse waitTask(dev.taskstate.v1.WaitTaskRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getWaitTaskMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Streams the task's committed versions in increasing order, ending with OK
     * right after the terminal version, or NOT_FOUND when the task is deleted or
     * expires.
     * </pre>
     */
    @io.grpc.ExperimentalApi("https://github.com/grpc/grpc-java/issues/10918")
    public io.grpc.stub.BlockingClientCall<?, dev.taskstate.v1.WatchTaskResponse>
        watchTask(dev.taskstate.v1.WatchTaskRequest request) {
      return io.grpc.stub.ClientCalls.blockingV2ServerStreamingCall(
          getChannel(), getWatchTaskMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Streams every committed change to any of the caller's tasks (creates
     * included) from the moment the stream is open, or from a resume_cursor.
     * </pre>
     */
    @io.grpc.ExperimentalApi("https://github.com/grpc/grpc-java/issues/10918")
    public io.grpc.stub.BlockingClientCall<?, dev.taskstate.v1.WatchTasksResponse>
        watchTasks(dev.taskstate.v1.WatchTasksRequest request) {
      return io.grpc.stub.ClientCalls.blockingV2ServerStreamingCall(
          getChannel(), getWatchTasksMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Claims a task for a lease: the task named, or the oldest task offered for
     * claiming (created with a lease_policy). The answer carries the lease and
     * its fencing token.
     * </pre>
     */
    public dev.taskstate.v1.ClaimTaskResponse claimTask(dev.taskstate.v1.ClaimTaskRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getClaimTaskMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Extends a lease the caller holds (a heartbeat), optionally with a
     * progress note, in one write.
     * </pre>
     */
    public dev.taskstate.v1.RenewLeaseResponse renewLease(dev.taskstate.v1.RenewLeaseRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getRenewLeaseMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Answers some of the task's outstanding input requests: keys without an
     * outstanding request (never asked, or already answered) are ignored, so an
     * answer is recorded once. When none remains outstanding, an input_required
     * task moves back to working in the same write.
     * </pre>
     */
    public dev.taskstate.v1.ProvideInputResponse provideInput(dev.taskstate.v1.ProvideInputRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getProvideInputMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Asks the task's worker to stop: sets cancel_requested (idempotent). The
     * task stays as it is until the worker, seeing the flag through its watch,
     * cancels or finishes it; a terminal task is returned unchanged.
     * </pre>
     */
    public dev.taskstate.v1.RequestCancelResponse requestCancel(dev.taskstate.v1.RequestCancelRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getRequestCancelMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service TaskService.
   * <pre>
   * TaskService stores tasks and their shared variables for the authenticated
   * owner. A task of another owner is indistinguishable from a missing one.
   * A call may also carry a subject in the `taskstate-subject` metadata (the end
   * user on whose behalf the caller acts, e.g. an MCP server's authenticated
   * user): CreateTask records it on the task, and every other call then sees
   * only that subject's tasks; a task of another subject is indistinguishable
   * from a missing one, in reads, writes, lists and watches alike. A call
   * without the metadata sees all of the owner's tasks (workers, operators).
   * </pre>
   */
  public static final class TaskServiceBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<TaskServiceBlockingStub> {
    private TaskServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected TaskServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new TaskServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Creates a task in TASK_STATUS_WORKING with version 1. With a request_id,
     * a retry returns the task created first and creates nothing.
     * </pre>
     */
    public dev.taskstate.v1.CreateTaskResponse createTask(dev.taskstate.v1.CreateTaskRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCreateTaskMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Returns one task.
     * </pre>
     */
    public dev.taskstate.v1.GetTaskResponse getTask(dev.taskstate.v1.GetTaskRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetTaskMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lists the caller's tasks, newest first.
     * </pre>
     */
    public dev.taskstate.v1.ListTasksResponse listTasks(dev.taskstate.v1.ListTasksRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListTasksMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Moves a task to another non-terminal or terminal status.
     * </pre>
     */
    public dev.taskstate.v1.UpdateTaskStatusResponse updateTaskStatus(dev.taskstate.v1.UpdateTaskStatusRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getUpdateTaskStatusMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Merges variables into the task: each key is set, a null_value deletes it.
     * </pre>
     */
    public dev.taskstate.v1.SetVariablesResponse setVariables(dev.taskstate.v1.SetVariablesRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getSetVariablesMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * The general compare-and-swap write: applies exactly the masked fields if
     * the stored version equals expected_version.
     * </pre>
     */
    public dev.taskstate.v1.PutIfVersionResponse putIfVersion(dev.taskstate.v1.PutIfVersionRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getPutIfVersionMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Completes or fails a task in one atomic write.
     * </pre>
     */
    public dev.taskstate.v1.CompleteTaskResponse completeTask(dev.taskstate.v1.CompleteTaskRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCompleteTaskMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Moves a non-terminal task to TASK_STATUS_CANCELLED.
     * </pre>
     */
    public dev.taskstate.v1.CancelTaskResponse cancelTask(dev.taskstate.v1.CancelTaskRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCancelTaskMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Removes a task, whatever its status.
     * </pre>
     */
    public dev.taskstate.v1.DeleteTaskResponse deleteTask(dev.taskstate.v1.DeleteTaskRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getDeleteTaskMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Returns the task as soon as its status is one of `statuses`, or the
     * current task (with OK) when the timeout or the call's deadline comes first.
     * </pre>
     */
    public dev.taskstate.v1.WaitTaskResponse waitTask(dev.taskstate.v1.WaitTaskRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getWaitTaskMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Streams the task's committed versions in increasing order, ending with OK
     * right after the terminal version, or NOT_FOUND when the task is deleted or
     * expires.
     * </pre>
     */
    public java.util.Iterator<dev.taskstate.v1.WatchTaskResponse> watchTask(
        dev.taskstate.v1.WatchTaskRequest request) {
      return io.grpc.stub.ClientCalls.blockingServerStreamingCall(
          getChannel(), getWatchTaskMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Streams every committed change to any of the caller's tasks (creates
     * included) from the moment the stream is open, or from a resume_cursor.
     * </pre>
     */
    public java.util.Iterator<dev.taskstate.v1.WatchTasksResponse> watchTasks(
        dev.taskstate.v1.WatchTasksRequest request) {
      return io.grpc.stub.ClientCalls.blockingServerStreamingCall(
          getChannel(), getWatchTasksMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Claims a task for a lease: the task named, or the oldest task offered for
     * claiming (created with a lease_policy). The answer carries the lease and
     * its fencing token.
     * </pre>
     */
    public dev.taskstate.v1.ClaimTaskResponse claimTask(dev.taskstate.v1.ClaimTaskRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getClaimTaskMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Extends a lease the caller holds (a heartbeat), optionally with a
     * progress note, in one write.
     * </pre>
     */
    public dev.taskstate.v1.RenewLeaseResponse renewLease(dev.taskstate.v1.RenewLeaseRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getRenewLeaseMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Answers some of the task's outstanding input requests: keys without an
     * outstanding request (never asked, or already answered) are ignored, so an
     * answer is recorded once. When none remains outstanding, an input_required
     * task moves back to working in the same write.
     * </pre>
     */
    public dev.taskstate.v1.ProvideInputResponse provideInput(dev.taskstate.v1.ProvideInputRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getProvideInputMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Asks the task's worker to stop: sets cancel_requested (idempotent). The
     * task stays as it is until the worker, seeing the flag through its watch,
     * cancels or finishes it; a terminal task is returned unchanged.
     * </pre>
     */
    public dev.taskstate.v1.RequestCancelResponse requestCancel(dev.taskstate.v1.RequestCancelRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getRequestCancelMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service TaskService.
   * <pre>
   * TaskService stores tasks and their shared variables for the authenticated
   * owner. A task of another owner is indistinguishable from a missing one.
   * A call may also carry a subject in the `taskstate-subject` metadata (the end
   * user on whose behalf the caller acts, e.g. an MCP server's authenticated
   * user): CreateTask records it on the task, and every other call then sees
   * only that subject's tasks; a task of another subject is indistinguishable
   * from a missing one, in reads, writes, lists and watches alike. A call
   * without the metadata sees all of the owner's tasks (workers, operators).
   * </pre>
   */
  public static final class TaskServiceFutureStub
      extends io.grpc.stub.AbstractFutureStub<TaskServiceFutureStub> {
    private TaskServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected TaskServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new TaskServiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Creates a task in TASK_STATUS_WORKING with version 1. With a request_id,
     * a retry returns the task created first and creates nothing.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.taskstate.v1.CreateTaskResponse> createTask(
        dev.taskstate.v1.CreateTaskRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCreateTaskMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Returns one task.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.taskstate.v1.GetTaskResponse> getTask(
        dev.taskstate.v1.GetTaskRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetTaskMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Lists the caller's tasks, newest first.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.taskstate.v1.ListTasksResponse> listTasks(
        dev.taskstate.v1.ListTasksRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListTasksMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Moves a task to another non-terminal or terminal status.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.taskstate.v1.UpdateTaskStatusResponse> updateTaskStatus(
        dev.taskstate.v1.UpdateTaskStatusRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getUpdateTaskStatusMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Merges variables into the task: each key is set, a null_value deletes it.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.taskstate.v1.SetVariablesResponse> setVariables(
        dev.taskstate.v1.SetVariablesRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getSetVariablesMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * The general compare-and-swap write: applies exactly the masked fields if
     * the stored version equals expected_version.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.taskstate.v1.PutIfVersionResponse> putIfVersion(
        dev.taskstate.v1.PutIfVersionRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getPutIfVersionMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Completes or fails a task in one atomic write.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.taskstate.v1.CompleteTaskResponse> completeTask(
        dev.taskstate.v1.CompleteTaskRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCompleteTaskMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Moves a non-terminal task to TASK_STATUS_CANCELLED.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.taskstate.v1.CancelTaskResponse> cancelTask(
        dev.taskstate.v1.CancelTaskRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCancelTaskMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Removes a task, whatever its status.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.taskstate.v1.DeleteTaskResponse> deleteTask(
        dev.taskstate.v1.DeleteTaskRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getDeleteTaskMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Returns the task as soon as its status is one of `statuses`, or the
     * current task (with OK) when the timeout or the call's deadline comes first.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.taskstate.v1.WaitTaskResponse> waitTask(
        dev.taskstate.v1.WaitTaskRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getWaitTaskMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Claims a task for a lease: the task named, or the oldest task offered for
     * claiming (created with a lease_policy). The answer carries the lease and
     * its fencing token.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.taskstate.v1.ClaimTaskResponse> claimTask(
        dev.taskstate.v1.ClaimTaskRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getClaimTaskMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Extends a lease the caller holds (a heartbeat), optionally with a
     * progress note, in one write.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.taskstate.v1.RenewLeaseResponse> renewLease(
        dev.taskstate.v1.RenewLeaseRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getRenewLeaseMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Answers some of the task's outstanding input requests: keys without an
     * outstanding request (never asked, or already answered) are ignored, so an
     * answer is recorded once. When none remains outstanding, an input_required
     * task moves back to working in the same write.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.taskstate.v1.ProvideInputResponse> provideInput(
        dev.taskstate.v1.ProvideInputRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getProvideInputMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Asks the task's worker to stop: sets cancel_requested (idempotent). The
     * task stays as it is until the worker, seeing the flag through its watch,
     * cancels or finishes it; a terminal task is returned unchanged.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.taskstate.v1.RequestCancelResponse> requestCancel(
        dev.taskstate.v1.RequestCancelRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getRequestCancelMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_CREATE_TASK = 0;
  private static final int METHODID_GET_TASK = 1;
  private static final int METHODID_LIST_TASKS = 2;
  private static final int METHODID_UPDATE_TASK_STATUS = 3;
  private static final int METHODID_SET_VARIABLES = 4;
  private static final int METHODID_PUT_IF_VERSION = 5;
  private static final int METHODID_COMPLETE_TASK = 6;
  private static final int METHODID_CANCEL_TASK = 7;
  private static final int METHODID_DELETE_TASK = 8;
  private static final int METHODID_WAIT_TASK = 9;
  private static final int METHODID_WATCH_TASK = 10;
  private static final int METHODID_WATCH_TASKS = 11;
  private static final int METHODID_CLAIM_TASK = 12;
  private static final int METHODID_RENEW_LEASE = 13;
  private static final int METHODID_PROVIDE_INPUT = 14;
  private static final int METHODID_REQUEST_CANCEL = 15;

  private static final class MethodHandlers<Req, Resp> implements
      io.grpc.stub.ServerCalls.UnaryMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ServerStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ClientStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.BidiStreamingMethod<Req, Resp> {
    private final AsyncService serviceImpl;
    private final int methodId;

    MethodHandlers(AsyncService serviceImpl, int methodId) {
      this.serviceImpl = serviceImpl;
      this.methodId = methodId;
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public void invoke(Req request, io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        case METHODID_CREATE_TASK:
          serviceImpl.createTask((dev.taskstate.v1.CreateTaskRequest) request,
              (io.grpc.stub.StreamObserver<dev.taskstate.v1.CreateTaskResponse>) responseObserver);
          break;
        case METHODID_GET_TASK:
          serviceImpl.getTask((dev.taskstate.v1.GetTaskRequest) request,
              (io.grpc.stub.StreamObserver<dev.taskstate.v1.GetTaskResponse>) responseObserver);
          break;
        case METHODID_LIST_TASKS:
          serviceImpl.listTasks((dev.taskstate.v1.ListTasksRequest) request,
              (io.grpc.stub.StreamObserver<dev.taskstate.v1.ListTasksResponse>) responseObserver);
          break;
        case METHODID_UPDATE_TASK_STATUS:
          serviceImpl.updateTaskStatus((dev.taskstate.v1.UpdateTaskStatusRequest) request,
              (io.grpc.stub.StreamObserver<dev.taskstate.v1.UpdateTaskStatusResponse>) responseObserver);
          break;
        case METHODID_SET_VARIABLES:
          serviceImpl.setVariables((dev.taskstate.v1.SetVariablesRequest) request,
              (io.grpc.stub.StreamObserver<dev.taskstate.v1.SetVariablesResponse>) responseObserver);
          break;
        case METHODID_PUT_IF_VERSION:
          serviceImpl.putIfVersion((dev.taskstate.v1.PutIfVersionRequest) request,
              (io.grpc.stub.StreamObserver<dev.taskstate.v1.PutIfVersionResponse>) responseObserver);
          break;
        case METHODID_COMPLETE_TASK:
          serviceImpl.completeTask((dev.taskstate.v1.CompleteTaskRequest) request,
              (io.grpc.stub.StreamObserver<dev.taskstate.v1.CompleteTaskResponse>) responseObserver);
          break;
        case METHODID_CANCEL_TASK:
          serviceImpl.cancelTask((dev.taskstate.v1.CancelTaskRequest) request,
              (io.grpc.stub.StreamObserver<dev.taskstate.v1.CancelTaskResponse>) responseObserver);
          break;
        case METHODID_DELETE_TASK:
          serviceImpl.deleteTask((dev.taskstate.v1.DeleteTaskRequest) request,
              (io.grpc.stub.StreamObserver<dev.taskstate.v1.DeleteTaskResponse>) responseObserver);
          break;
        case METHODID_WAIT_TASK:
          serviceImpl.waitTask((dev.taskstate.v1.WaitTaskRequest) request,
              (io.grpc.stub.StreamObserver<dev.taskstate.v1.WaitTaskResponse>) responseObserver);
          break;
        case METHODID_WATCH_TASK:
          serviceImpl.watchTask((dev.taskstate.v1.WatchTaskRequest) request,
              (io.grpc.stub.StreamObserver<dev.taskstate.v1.WatchTaskResponse>) responseObserver);
          break;
        case METHODID_WATCH_TASKS:
          serviceImpl.watchTasks((dev.taskstate.v1.WatchTasksRequest) request,
              (io.grpc.stub.StreamObserver<dev.taskstate.v1.WatchTasksResponse>) responseObserver);
          break;
        case METHODID_CLAIM_TASK:
          serviceImpl.claimTask((dev.taskstate.v1.ClaimTaskRequest) request,
              (io.grpc.stub.StreamObserver<dev.taskstate.v1.ClaimTaskResponse>) responseObserver);
          break;
        case METHODID_RENEW_LEASE:
          serviceImpl.renewLease((dev.taskstate.v1.RenewLeaseRequest) request,
              (io.grpc.stub.StreamObserver<dev.taskstate.v1.RenewLeaseResponse>) responseObserver);
          break;
        case METHODID_PROVIDE_INPUT:
          serviceImpl.provideInput((dev.taskstate.v1.ProvideInputRequest) request,
              (io.grpc.stub.StreamObserver<dev.taskstate.v1.ProvideInputResponse>) responseObserver);
          break;
        case METHODID_REQUEST_CANCEL:
          serviceImpl.requestCancel((dev.taskstate.v1.RequestCancelRequest) request,
              (io.grpc.stub.StreamObserver<dev.taskstate.v1.RequestCancelResponse>) responseObserver);
          break;
        default:
          throw new AssertionError();
      }
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public io.grpc.stub.StreamObserver<Req> invoke(
        io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        default:
          throw new AssertionError();
      }
    }
  }

  public static final io.grpc.ServerServiceDefinition bindService(AsyncService service) {
    return io.grpc.ServerServiceDefinition.builder(getServiceDescriptor())
        .addMethod(
          getCreateTaskMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.taskstate.v1.CreateTaskRequest,
              dev.taskstate.v1.CreateTaskResponse>(
                service, METHODID_CREATE_TASK)))
        .addMethod(
          getGetTaskMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.taskstate.v1.GetTaskRequest,
              dev.taskstate.v1.GetTaskResponse>(
                service, METHODID_GET_TASK)))
        .addMethod(
          getListTasksMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.taskstate.v1.ListTasksRequest,
              dev.taskstate.v1.ListTasksResponse>(
                service, METHODID_LIST_TASKS)))
        .addMethod(
          getUpdateTaskStatusMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.taskstate.v1.UpdateTaskStatusRequest,
              dev.taskstate.v1.UpdateTaskStatusResponse>(
                service, METHODID_UPDATE_TASK_STATUS)))
        .addMethod(
          getSetVariablesMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.taskstate.v1.SetVariablesRequest,
              dev.taskstate.v1.SetVariablesResponse>(
                service, METHODID_SET_VARIABLES)))
        .addMethod(
          getPutIfVersionMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.taskstate.v1.PutIfVersionRequest,
              dev.taskstate.v1.PutIfVersionResponse>(
                service, METHODID_PUT_IF_VERSION)))
        .addMethod(
          getCompleteTaskMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.taskstate.v1.CompleteTaskRequest,
              dev.taskstate.v1.CompleteTaskResponse>(
                service, METHODID_COMPLETE_TASK)))
        .addMethod(
          getCancelTaskMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.taskstate.v1.CancelTaskRequest,
              dev.taskstate.v1.CancelTaskResponse>(
                service, METHODID_CANCEL_TASK)))
        .addMethod(
          getDeleteTaskMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.taskstate.v1.DeleteTaskRequest,
              dev.taskstate.v1.DeleteTaskResponse>(
                service, METHODID_DELETE_TASK)))
        .addMethod(
          getWaitTaskMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.taskstate.v1.WaitTaskRequest,
              dev.taskstate.v1.WaitTaskResponse>(
                service, METHODID_WAIT_TASK)))
        .addMethod(
          getWatchTaskMethod(),
          io.grpc.stub.ServerCalls.asyncServerStreamingCall(
            new MethodHandlers<
              dev.taskstate.v1.WatchTaskRequest,
              dev.taskstate.v1.WatchTaskResponse>(
                service, METHODID_WATCH_TASK)))
        .addMethod(
          getWatchTasksMethod(),
          io.grpc.stub.ServerCalls.asyncServerStreamingCall(
            new MethodHandlers<
              dev.taskstate.v1.WatchTasksRequest,
              dev.taskstate.v1.WatchTasksResponse>(
                service, METHODID_WATCH_TASKS)))
        .addMethod(
          getClaimTaskMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.taskstate.v1.ClaimTaskRequest,
              dev.taskstate.v1.ClaimTaskResponse>(
                service, METHODID_CLAIM_TASK)))
        .addMethod(
          getRenewLeaseMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.taskstate.v1.RenewLeaseRequest,
              dev.taskstate.v1.RenewLeaseResponse>(
                service, METHODID_RENEW_LEASE)))
        .addMethod(
          getProvideInputMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.taskstate.v1.ProvideInputRequest,
              dev.taskstate.v1.ProvideInputResponse>(
                service, METHODID_PROVIDE_INPUT)))
        .addMethod(
          getRequestCancelMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.taskstate.v1.RequestCancelRequest,
              dev.taskstate.v1.RequestCancelResponse>(
                service, METHODID_REQUEST_CANCEL)))
        .build();
  }

  private static abstract class TaskServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    TaskServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return dev.taskstate.v1.TaskstateProto.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("TaskService");
    }
  }

  private static final class TaskServiceFileDescriptorSupplier
      extends TaskServiceBaseDescriptorSupplier {
    TaskServiceFileDescriptorSupplier() {}
  }

  private static final class TaskServiceMethodDescriptorSupplier
      extends TaskServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    TaskServiceMethodDescriptorSupplier(java.lang.String methodName) {
      this.methodName = methodName;
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.MethodDescriptor getMethodDescriptor() {
      return getServiceDescriptor().findMethodByName(methodName);
    }
  }

  private static volatile io.grpc.ServiceDescriptor serviceDescriptor;

  public static io.grpc.ServiceDescriptor getServiceDescriptor() {
    io.grpc.ServiceDescriptor result = serviceDescriptor;
    if (result == null) {
      synchronized (TaskServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new TaskServiceFileDescriptorSupplier())
              .addMethod(getCreateTaskMethod())
              .addMethod(getGetTaskMethod())
              .addMethod(getListTasksMethod())
              .addMethod(getUpdateTaskStatusMethod())
              .addMethod(getSetVariablesMethod())
              .addMethod(getPutIfVersionMethod())
              .addMethod(getCompleteTaskMethod())
              .addMethod(getCancelTaskMethod())
              .addMethod(getDeleteTaskMethod())
              .addMethod(getWaitTaskMethod())
              .addMethod(getWatchTaskMethod())
              .addMethod(getWatchTasksMethod())
              .addMethod(getClaimTaskMethod())
              .addMethod(getRenewLeaseMethod())
              .addMethod(getProvideInputMethod())
              .addMethod(getRequestCancelMethod())
              .build();
        }
      }
    }
    return result;
  }
}
